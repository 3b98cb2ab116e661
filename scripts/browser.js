// Headless Chromium for the notebook checks (scripts/check-html.js, test/notebook/browser.test.ts):
// Debian's chromium (bash scripts/setup.sh --chromium) driven by playwright-core, with a fresh
// profile and no background services, and a page inspection that says whether a notebook page reads
// well: plots drawn, nothing wider than its output area, axis titles inside their plot, no labels on
// top of each other.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions',
];
/** The window a reader is assumed to have. */
const WINDOW = { width: 1280, height: 900 };

function chromiumInstalled() {
  return fs.existsSync(CHROMIUM);
}

/**
 * A browser context with a fresh --user-data-dir. `offline`: every request other than file:// fails
 * (an exported page must carry everything it shows). close() also removes the profile.
 */
async function launchBrowser(options = {}) {
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'metaanchor-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: options.viewport ?? WINDOW,
  });
  if (options.offline) {
    await context.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
  }
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Runs in the page: the state of every figure output (.metaanchor-plot) and what does not fit.
 * Returns { plots, drawn, notLoaded, lineTraces, problems: [text] }.
 */
function inspectOutputsInPage() {
  const problems = [];
  const rect = (el) => el.getBoundingClientRect();
  const describe = (el) => (el.textContent || el.tagName).trim().slice(0, 40);
  const plots = [...document.querySelectorAll('.metaanchor-plot')];
  let drawn = 0;
  let notLoaded = 0;
  let lineTraces = 0;
  plots.forEach((plot, k) => {
    if (/plotly\.js is not loaded/.test(plot.textContent)) notLoaded += 1;
    const svg = plot.querySelector('svg.main-svg');
    if (!svg) return;
    drawn += 1;
    lineTraces += [...plot.querySelectorAll('path.js-line')].filter((p) => /^M/.test(p.getAttribute('d') || '')).length;
    const box = rect(svg);
    const title = plot.querySelector('.gtitle');
    const name = `plot ${k + 1}${title ? ` "${title.textContent.slice(0, 50)}"` : ''}`;
    // Labels that must be readable: titles, axis titles, legend entries, colour-bar titles, tick labels.
    const major = [...plot.querySelectorAll('.gtitle, [class*="title"] > text, .legendtext, .cbtitle text, .annotation-text')]
      .filter((t) => rect(t).width > 0);
    const ticks = [...plot.querySelectorAll('.xtick text, .ytick text, .x2tick text, .y2tick text, [class*="tick"] > text')]
      .filter((t) => rect(t).width > 0);
    for (const t of [...major, ...ticks]) {
      const r = rect(t);
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        problems.push(`${name}: label "${describe(t)}" is cut off by the plot's edge`);
      }
    }
    const overlap = (a, b) => {
      const ra = rect(a);
      const rb = rect(b);
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      return w > 1 && h > 1;
    };
    const labels = [...new Set([...major, ...ticks])];
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) {
        if (labels[i].contains(labels[j]) || labels[j].contains(labels[i])) continue;
        if (!major.includes(labels[i]) && !major.includes(labels[j])) continue; // tick vs tick: plotly spaces them
        if (overlap(labels[i], labels[j])) problems.push(`${name}: "${describe(labels[i])}" overlaps "${describe(labels[j])}"`);
      }
    }
  });
  // Tables, plots and images must fit the output area they are shown in.
  for (const el of document.querySelectorAll('table.metaanchor-table, .metaanchor-plot, .metaanchor-figure')) {
    // A folded table (closed <details>) is not shown; Chromium still lays it out.
    if (el.closest('details:not([open])')) continue;
    const area = el.parentElement && el.parentElement.closest('.jp-OutputArea-output, .output_subarea, .output_area');
    if (!area) continue;
    const over = rect(el).right - rect(area).right;
    if (over > 1) problems.push(`${el.className.split(' ')[0]} "${describe(el.querySelector('caption, .gtitle') || el)}" is ${Math.round(over)} px wider than its output area`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  return { plots: plots.length, drawn, notLoaded, lineTraces, problems };
}

/** Wait until every figure of the page is drawn or says it cannot be (at most `timeoutMs`). */
async function waitForPlots(page, timeoutMs = 20000) {
  await page
    .waitForFunction(
      () => [...document.querySelectorAll('.metaanchor-plot')].every((p) => p.querySelector('svg.main-svg') || /not loaded/.test(p.textContent)),
      undefined,
      { timeout: timeoutMs, polling: 200 },
    )
    .catch(() => undefined);
}

async function inspectOutputs(page) {
  return page.evaluate(inspectOutputsInPage);
}

module.exports = { CHROMIUM, WINDOW, chromiumInstalled, launchBrowser, waitForPlots, inspectOutputs };
