/**
 * The live notebook in a real browser: `npm run notebook` driven by headless Chromium (Debian's
 * chromium through playwright-core, scripts/browser.js). One server, one kernel, one browser:
 *  - the import cell says what it is loading before it finishes;
 *  - a plot draws, and draws again after the page is reloaded (plotly.js is loaded per page);
 *  - a status line (training progress) is one output updated in place;
 *  - a saved notebook holds no plotly.js, every cell has an id, its signature is valid, and it
 *    reopens trusted with its plot drawn.
 *
 * Needs Debian's Jupyter and chromium (bash scripts/setup.sh --chromium). About 1 min.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { ROOT, Served, serveNotebooks } from './jupyter-server';
import { explorerHtml } from '../../lib/notebook/explorer';

const { chromiumInstalled, launchBrowser, waitForPlots, inspectOutputs, WINDOW } = require('../../scripts/browser.js');

const PYTHON = '/usr/bin/python3';
const skip = !chromiumInstalled() && 'Debian chromium not installed (bash scripts/setup.sh --chromium)';

let nbDir = '';

before(() => {
  if (skip) return;
  // Under the server's root and not hidden (Jupyter does not open hidden folders).
  fs.mkdirSync(path.join(ROOT, 'outputs'), { recursive: true });
  nbDir = fs.mkdtempSync(path.join(ROOT, 'outputs', 'browser-test-'));
});

after(() => {
  if (nbDir && !process.env.KEEP_NBTEST) fs.rmSync(nbDir, { recursive: true, force: true });
});

const CELLS = [
  "import { showPlot } from './lib/notebook';\nimport { Progress } from './lib/util/progress';",
  "showPlot({ data: [{ type: 'scatter', mode: 'lines', x: [1, 2, 3, 4], y: [4, 1, 3, 2] }], layout: { title: { text: 'reload check' } } });",
  "const p = new Progress({ label: 'demo steps', total: 5, everySec: 0 });\nfor (let i = 1; i <= 5; i++) { p.update(i, { loss: 1 / i }); await new Promise((r) => setTimeout(r, 150)); }",
  // Tables 2 and 7 and their two-axis figures, as notebooks 02 and 07 show them (made-up numbers).
  [
    "import { claimRows, tableRows, mmapVsAnchorsFigure, columnsBarFigure, rowsBarFigure } from './lib/experiments';",
    "import { showTable } from './lib/notebook';",
    "import { fakeTableResult } from './test/notebook/fake-results';",
    "const t2 = fakeTableResult('2');",
    "const t7 = fakeTableResult('7');",
    "const t8 = fakeTableResult('8');",
    'for (const r of [t2, t7, t8]) {',
    '  showTable(claimRows(r), { caption: `Table ${r.table.id}`, digits: 1 });',
    "  showTable(tableRows(r), { caption: 'every metric', digits: 1, folded: true });",
    '}',
    'showPlot(mmapVsAnchorsFigure(t2));',
    'showPlot(columnsBarFigure(t7));',
    'showPlot(rowsBarFigure(t8));',
  ].join('\n'),
  // The control: Table 2 with every metric unfolded is too wide, and the measurement must say so.
  "showTable(tableRows(t2), { caption: 'control: every metric unfolded', digits: 1 });",
];

/** A notebook as older front ends write it: nbformat 4.4, cells without ids. */
function writeNotebook(file: string): void {
  const nb = {
    cells: CELLS.map((source) => ({ cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null })),
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 4,
  };
  fs.writeFileSync(file, JSON.stringify(nb, null, 1));
}

function signatureValid(file: string, dataDir: string): boolean {
  const code =
    'import sys, nbformat\nfrom nbformat.sign import NotebookNotary\n' +
    'nb = nbformat.read(sys.argv[1], as_version=4)\nsys.exit(0 if NotebookNotary().check_signature(nb) else 3)';
  const res = spawnSync(PYTHON, ['-c', code, file], { env: { ...process.env, JUPYTER_DATA_DIR: dataDir }, encoding: 'utf8' });
  if (res.status !== 0 && res.status !== 3) throw new Error(`signature check failed to run: ${res.stderr}`);
  return res.status === 0;
}

declare const Jupyter: any;

test('live notebook: plot after reload, status line in place, saved notebook small, with ids and trusted', { skip, timeout: 600_000 }, async () => {
  const file = path.join(nbDir, 'live.ipynb');
  writeNotebook(file);
  // Status lines are on in the kernel (the test runner silences them for unit tests).
  const server: Served = await serveNotebooks({ METAANCHOR_QUIET: '', METAANCHOR_BACKEND: 'cpu' });
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e: Error) => errors.push(String(e)));
    const url = `http://127.0.0.1:${server.port}/notebooks/${path.relative(ROOT, file)}?token=${server.token}`;
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction(() => (window as any).Jupyter?.notebook?._fully_loaded && Jupyter.notebook.kernel?.is_connected(), undefined, {
      timeout: 120_000,
      polling: 250,
    });

    // Run all; the import cell's first output names what it loads, before the cell finishes.
    await page.evaluate(() => Jupyter.notebook.execute_all_cells());
    await page.waitForFunction(() => /Loading \.\/lib\/notebook/.test(Jupyter.notebook.get_cell(0).output_area.element.text()), undefined, {
      timeout: 120_000,
      polling: 100,
    });
    await page.waitForFunction(() => Jupyter.notebook.get_cells().every((c: any) => typeof c.input_prompt_number === 'number'), undefined, {
      timeout: 300_000,
      polling: 250,
    });
    const ran: { outputs: string[]; text: string }[] = await page.evaluate(() =>
      Jupyter.notebook.get_cells().map((c: any) => ({
        outputs: c.output_area.outputs.map((o: any) => o.output_type + ':' + JSON.stringify(o.data ?? o.text ?? o.ename ?? '').slice(0, 300)),
        text: c.output_area.element.text(),
      })),
    );
    assert.match(ran[0].text, /Loading \.\/lib\/notebook, \.\/lib\/util\/progress/);
    assert.ok(
      ran.every((c) => !c.outputs.some((o: string) => o.startsWith('error') || /Error/.test(o))),
      JSON.stringify(ran, null, 1),
    );
    // The progress cell: one output, its last line, after 5 in-place updates.
    assert.equal(ran[2].outputs.length, 1, JSON.stringify(ran[2]));
    assert.match(ran[2].text, /demo steps 5\/5 .*\(5 updates\)/);

    const plotState = () =>
      page.evaluate(() => ({
        drawn: Array.from(document.querySelectorAll('.metaanchor-plot')).filter((p) => p.querySelector('svg.main-svg')).length,
        title: document.querySelector('.metaanchor-plot .gtitle')?.textContent ?? '',
        notLoaded: /not loaded/.test(document.querySelector('.metaanchor-plot')?.textContent ?? ''),
      }));
    await page.waitForSelector('.metaanchor-plot svg.main-svg', { timeout: 60_000 });
    await waitForPlots(page);
    assert.deepEqual(await plotState(), { drawn: 4, title: 'reload check', notLoaded: false });

    // At 1280 px, tables and plots fit their output area, and no plot label is cut off or overlaps
    // another; the too-wide control table is the one problem found.
    assert.equal(WINDOW.width, 1280);
    const report = await inspectOutputs(page);
    assert.deepEqual(
      report.problems.filter((p: string) => !p.includes('control:')),
      [],
    );
    assert.match(report.problems.join('\n'), /metaanchor-table "control: every metric unfolded" is \d+ px wider than its output area/);

    // A cell added in the page (Notebook 6 gives it no id), then save.
    await page.evaluate(() => Jupyter.notebook.insert_cell_at_bottom('markdown').set_text('a note'));
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          Jupyter.notebook.events.one('notebook_saved.Notebook', () => resolve());
          Jupyter.notebook.save_notebook();
        }),
    );
    const saved = fs.readFileSync(file, 'utf8');
    assert.ok(saved.length < 150_000, `saved notebook is ${saved.length} bytes`);
    assert.ok(!saved.includes('plotly.js v4.1.2'), 'the saved notebook holds the plotly.js bundle');
    const nb = JSON.parse(saved);
    assert.equal(nb.cells.length, CELLS.length + 1);
    assert.ok(
      nb.cells.every((c: { id?: string }) => typeof c.id === 'string' && c.id.length > 0),
      'every cell has an id',
    );
    assert.equal(signatureValid(file, server.dataDir), true, 'signature of the saved notebook');

    // Reload while the kernel runs: the notebook reopens trusted and its plot draws without running
    // anything (plotly.js is loaded by the new page).
    await page.reload({ waitUntil: 'load' });
    await page.waitForFunction(() => (window as any).Jupyter?.notebook?._fully_loaded, undefined, { timeout: 60_000 });
    await waitForPlots(page, 60_000);
    assert.equal(await page.evaluate(() => Jupyter.notebook.trusted), true, 'reopened trusted');
    assert.deepEqual(await plotState(), { drawn: 4, title: 'reload check', notLoaded: false });
    assert.match(await page.evaluate(() => Jupyter.notebook.get_cell(2).output_area.element.text()), /demo steps 5\/5/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.stop();
  }
});

test('the offline explorer switches precomputed panels with its two dropdowns (file://, no network)', { skip, timeout: 120_000 }, async () => {
  const png = (r: number, g: number, b: number) =>
    sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g, b } } })
      .png()
      .toBuffer();
  const panels = [];
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 3; b++) {
      panels.push({
        at: [a, b] as [number, number],
        caption: `scale ${a} ratio ${b}`,
        images: [
          { data: await png(40 * a, 40 * b, 0), caption: `first ${a}${b}` },
          { data: await png(0, 40 * a, 40 * b), caption: `second ${a}${b}` },
        ],
      });
    }
  }
  const html = explorerHtml(panels, {
    axes: [
      { label: 'scale', values: ['1', '2'] },
      { label: 'ratio', values: ['1/2', '1', '2'] },
    ],
    initial: [0, 1],
    widthPx: 64,
  });
  const file = path.join(nbDir, 'explorer.html');
  fs.writeFileSync(file, `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${html}</body></html>`);
  const browser = await launchBrowser({ offline: true });
  try {
    const page = await browser.context.newPage();
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    const state = () =>
      page.evaluate(() => ({
        caption: document.querySelector('.metaanchor-explorer-caption')!.textContent,
        src: Array.from(document.querySelectorAll('.metaanchor-explorer img')).map((img) => (img as HTMLImageElement).src),
        captions: Array.from(document.querySelectorAll('.metaanchor-explorer figcaption')).map((c) => c.textContent),
      }));
    const url = (data: Buffer) => `data:image/png;base64,${data.toString('base64')}`;
    assert.deepEqual(await state(), { caption: 'scale 0 ratio 1', src: panels[1].images.map((im) => url(im.data)), captions: ['first 01', 'second 01'] });
    await page.selectOption('select[data-axis="0"]', { value: '1' });
    await page.selectOption('select[data-axis="1"]', { value: '2' });
    assert.deepEqual(await state(), { caption: 'scale 1 ratio 2', src: panels[5].images.map((im) => url(im.data)), captions: ['first 12', 'second 12'] });
  } finally {
    await browser.close();
  }
});

test('a page opened while a cell runs shows that cell running, with its live status line', { skip, timeout: 600_000 }, async () => {
  const file = path.join(nbDir, 'reopen.ipynb');
  // Runs until the test creates the stop file (at most 1000 steps of 0.3 s), whatever the load.
  const stopFile = path.join(nbDir, 'reopen.stop');
  const source = [
    "import * as fs from 'node:fs';",
    "import { Progress } from './lib/util/progress';",
    "const p = new Progress({ label: 'long steps', total: 1000, everySec: 0 });",
    `for (let i = 1; i <= 1000 && !fs.existsSync(${JSON.stringify(stopFile)}); i++) {`,
    '  p.update(i);',
    '  await new Promise((r) => setTimeout(r, 300));',
    '}',
    "console.log('all steps done');",
  ].join('\n');
  const nb = {
    cells: [{ cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null }],
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 4,
  };
  fs.writeFileSync(file, JSON.stringify(nb, null, 1));
  const server: Served = await serveNotebooks({ METAANCHOR_QUIET: '', METAANCHOR_BACKEND: 'cpu' });
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e: Error) => errors.push(String(e)));
    const url = `http://127.0.0.1:${server.port}/notebooks/${path.relative(ROOT, file)}?token=${server.token}`;
    const ready = () =>
      page.waitForFunction(() => (window as any).Jupyter?.notebook?._fully_loaded && Jupyter.notebook.kernel?.is_connected(), undefined, {
        timeout: 120_000,
        polling: 250,
      });
    const step = () =>
      page.evaluate(() => {
        const m = /long steps +(\d+)\/1000/.exec(Jupyter.notebook.get_cell(0).output_area.element.text());
        return m ? Number(m[1]) : 0;
      });
    await page.goto(url, { waitUntil: 'load' });
    await ready();
    await page.evaluate(() => Jupyter.notebook.execute_all_cells());
    await page.waitForFunction(() => /long steps +[3-9]\/1000/.test(Jupyter.notebook.get_cell(0).output_area.element.text()), undefined, {
      timeout: 120_000,
      polling: 100,
    });
    // Reload without saving: the notebook file has no outputs; the kernel goes on with the cell.
    await page.reload({ waitUntil: 'load' });
    await ready();
    await page.waitForFunction(() => /long steps +\d+\/1000/.test(Jupyter.notebook.get_cell(0).output_area.element.text()), undefined, {
      timeout: 60_000,
      polling: 100,
    });
    const first = await step();
    assert.equal(await page.evaluate(() => Jupyter.notebook.get_cell(0).input_prompt_number), '*', 'the reopened page shows the cell running');
    // Live: the same status output moves on, in place.
    await page.waitForFunction(
      (n: number) => new RegExp(`long steps +(\\d+)/1000`).exec(Jupyter.notebook.get_cell(0).output_area.element.text())![1] !== String(n),
      first,
      {
        timeout: 60_000,
        polling: 100,
      },
    );
    fs.writeFileSync(stopFile, '');
    await page.waitForFunction(() => /all steps done/.test(Jupyter.notebook.get_cell(0).output_area.element.text()), undefined, {
      timeout: 60_000,
      polling: 250,
    });
    const end = await page.evaluate(() => ({
      outputs: Jupyter.notebook.get_cell(0).output_area.outputs.length,
      text: Jupyter.notebook.get_cell(0).output_area.element.text(),
      prompt: Jupyter.notebook.get_cell(0).input_prompt_number ?? null,
    }));
    assert.equal(end.outputs, 2, end.text);
    assert.notEqual(end.prompt, '*', 'the cell shows as finished');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.stop();
  }
});
