#!/usr/bin/env node
// Checks exported notebooks (outputs/<name>.html) the way a reader sees them: headless Chromium opens
// each file offline (every non-file request fails) in a 1280 px window, then
//   1. every plotly figure must be drawn (no "plotly.js is not loaded" note), with at least one line
//      trace in the page when --lines is given;
//   2. tables, plots and images must fit their output area, axis titles and legends must lie inside
//      their plot and must not overlap (scripts/browser.js inspectOutputs);
//   3. a full-page screenshot <name>.png is written beside the file (or into --shots <dir>).
//
//   node scripts/check-html.js [--lines] [--shots <dir>] [--if-chromium] outputs/*.html     (npm run check-html)
//
// --if-chromium: without Debian's chromium, say so and pass (npm test on a machine set up without it).
//
// Needs Debian's chromium (bash scripts/setup.sh --chromium). Exit 0 = all fine, 1 = a problem, 2 = usage.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { CHROMIUM, chromiumInstalled, launchBrowser, waitForPlots, inspectOutputs } = require('./browser');

async function checkFile(context, file, opts) {
  const page = await context.newPage();
  await page.goto(`file://${path.resolve(file)}`, { waitUntil: 'load' });
  await waitForPlots(page);
  const r = await inspectOutputs(page);
  const shot = path.join(opts.shots ?? path.dirname(file), `${path.basename(file, '.html')}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  await page.close();
  const problems = [...r.problems];
  if (r.notLoaded > 0) problems.unshift(`${r.notLoaded} plot(s) say plotly.js is not loaded`);
  if (r.drawn < r.plots) problems.unshift(`${r.plots - r.drawn} of ${r.plots} plot(s) not drawn`);
  if (opts.lines && r.lineTraces < 1) problems.unshift('no plotly line trace drawn');
  console.log(`check-html: ${file}: ${r.drawn}/${r.plots} plot(s) drawn, ${r.lineTraces} drawn line trace(s); screenshot ${shot}`);
  for (const p of problems) console.log(`  problem: ${p}`);
  return problems.length === 0;
}

async function main(argv) {
  const opts = { lines: false, shots: undefined, ifChromium: false };
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--lines') opts.lines = true;
    else if (argv[i] === '--shots') opts.shots = argv[++i];
    else if (argv[i] === '--if-chromium') opts.ifChromium = true;
    else files.push(argv[i]);
  }
  if (files.length === 0) {
    const dir = path.resolve(__dirname, '..', 'outputs');
    if (fs.existsSync(dir)) files.push(...fs.readdirSync(dir).filter((f) => f.endsWith('.html')).sort().map((f) => path.join(dir, f)));
  }
  if (files.length === 0) return usage('no .html files given and none in outputs/ (run: npm run notebooks)');
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length) return usage(`not found: ${missing.join(', ')}`);
  if (!chromiumInstalled() && opts.ifChromium) {
    console.log(`check-html: skipped, ${CHROMIUM} not installed (bash scripts/setup.sh --chromium)`);
    return 0;
  }
  if (!chromiumInstalled()) return usage(`${CHROMIUM} not found (install: bash scripts/setup.sh --chromium)`);
  if (opts.shots) fs.mkdirSync(opts.shots, { recursive: true });
  const browser = await launchBrowser({ offline: true });
  let ok = true;
  try {
    for (const f of files) ok = (await checkFile(browser.context, f, opts)) && ok;
  } finally {
    await browser.close();
  }
  if (!ok) console.log('check-html: FAILED');
  return ok ? 0 : 1;
}

function usage(message) {
  console.error(`check-html: ${message}`);
  return 2;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error(`check-html: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
