/**
 * The headless notebook runner end to end (scripts/notebook.js run -> scripts/run_notebooks.py ->
 * the repo's tslab kernel spec): failing notebooks fail the run with notebook, cell and error named;
 * a passing one is written as signed .ipynb + .html with its plot; the HTML check (Chromium, when
 * installed) sees the plot drawn and notices when plotly.js is missing.
 *
 * Needs Debian's Jupyter packages (bash scripts/setup.sh). About 30-60 s: four kernel starts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = '/usr/bin/python3';
const CHROMIUM = '/usr/bin/chromium';

let nbDir = ''; // inside the project: the kernel finds the project from the notebook's folder
let outDir = '';
let dataDir = ''; // JUPYTER_DATA_DIR: the notary's key and signature db, kept out of the user's

/** nbformat stores multi-line strings as lists of lines. */
type MultiLine = string | string[];

function joined(value: MultiLine | undefined): string {
  return Array.isArray(value) ? value.join('') : (value ?? '');
}

interface Cell {
  cell_type: 'code' | 'markdown';
  metadata: Record<string, unknown>;
  source: string;
  outputs?: Array<Record<string, unknown> & { output_type: string; text?: MultiLine; data?: Record<string, MultiLine> }>;
  execution_count?: number | null;
}

function writeNotebook(name: string, sources: string[]): string {
  const nb = {
    cells: sources.map((source): Cell => ({ cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null })),
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 4,
  };
  const file = path.join(nbDir, name);
  fs.writeFileSync(file, JSON.stringify(nb, null, 1));
  return file;
}

function readNotebook(file: string): { cells: Cell[]; metadata: Record<string, unknown> } {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function env(): NodeJS.ProcessEnv {
  return { ...process.env, JUPYTER_DATA_DIR: dataDir, METAANCHOR_BACKEND: 'cpu' };
}

/** One notebook at a time unless the args say otherwise: the messages below are checked line by line. */
function runNotebooks(args: string[]): SpawnSyncReturns<string> {
  const jobs = args.includes('--jobs') ? [] : ['--jobs', '1'];
  return spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'notebook.js'), 'run', '--out', outDir, ...jobs, ...args], {
    cwd: ROOT,
    env: env(),
    encoding: 'utf8',
    timeout: 240_000,
  });
}

/** nbformat's own signature check, with the same notary data dir as the run. */
function signatureValid(file: string): boolean {
  const code =
    'import sys, nbformat\nfrom nbformat.sign import NotebookNotary\n' +
    'nb = nbformat.read(sys.argv[1], as_version=4)\nsys.exit(0 if NotebookNotary().check_signature(nb) else 3)';
  const res = spawnSync(PYTHON, ['-c', code, file], { env: env(), encoding: 'utf8' });
  if (res.status !== 0 && res.status !== 3) throw new Error(`signature check failed to run: ${res.stderr}`);
  return res.status === 0;
}

before(() => {
  const probe = spawnSync(PYTHON, ['-c', 'import nbclient, nbformat, nbconvert'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, `${PYTHON} lacks nbclient/nbformat/nbconvert: run bash scripts/setup.sh\n${probe.stderr}`);
  fs.mkdirSync(path.join(ROOT, '.cache'), { recursive: true });
  nbDir = fs.mkdtempSync(path.join(ROOT, '.cache', 'nbtest-'));
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbtest-out-'));
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbtest-jupyter-'));
});

after(() => {
  if (process.env.KEEP_NBTEST) return; // KEEP_NBTEST=1 keeps the notebooks and outputs for a look
  for (const dir of [nbDir, outDir, dataDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('bad arguments: unknown profile and unknown notebook are refused before any kernel starts', () => {
  const badProfile = runNotebooks(['--profile', 'fast']);
  assert.notEqual(badProfile.status, 0);
  assert.match(badProfile.stderr, /unknown profile "fast"/);
  const badName = runNotebooks(['no_such_notebook_xyz']);
  assert.equal(badName.status, 2);
  assert.match(badName.stderr, /error: no notebook "no_such_notebook_xyz"/);
});

test('a thrown error, a type error, an uncaught async error and a timeout each fail the run, named precisely', () => {
  const thrown = writeNotebook('fail_throw.ipynb', [
    'const a: number = 1 + 1;\na',
    "// the failing cell\nthrow new Error('deliberate failure 42');",
    "console.log('after the failure');",
  ]);
  const typed = writeNotebook('fail_type.ipynb', ["const n: number = 'not a number';"]);
  const late = writeNotebook('fail_async.ipynb', [
    "setTimeout(() => { throw new Error('late failure 7'); }, 10);\nawait new Promise((r) => setTimeout(r, 300));",
  ]);
  const stuck = writeNotebook('fail_timeout.ipynb', ['await new Promise((r) => setTimeout(r, 120_000));']);
  const res = runNotebooks(['--profile', 'smoke', '--timeout', '10', thrown, typed, late, stuck]);
  assert.equal(res.status, 1, res.stderr);
  const err = res.stderr;
  assert.ok(err.includes(`notebook FAILED: ${thrown}\n  at cell 2/3 (index 1): // the failing cell\n  error:\n    Error: deliberate failure 42\n`), err);
  assert.ok(
    err.includes(
      `notebook FAILED: ${typed}\n  at cell 1/1 (index 0): const n: number = 'not a number';\n  error:\n    1:7 - Type 'string' is not assignable to type 'number'.\n`,
    ),
    err,
  );
  assert.ok(
    err.includes(
      `notebook FAILED: ${late}\n  at cell 1/1 (index 0): setTimeout(() => { throw new Error('late failure 7'); }, 10);\n  error:\n    UncaughtException: Error: late failure 7\n`,
    ),
    err,
  );
  assert.ok(
    err.includes(
      `notebook FAILED: ${stuck}\n  at cell 1/1 (index 0): await new Promise((r) => setTimeout(r, 120_000));\n  error:\n    no result after 10 s (per-cell timeout; raise it with --timeout)\n`,
    ),
    err,
  );
  assert.match(err, /4 of 4 notebook\(s\) FAILED in [\d.]+ s/);
  // Progress lines name the cell position and its time.
  assert.match(err, /cell 1\/3 \[1\/3 code\]  [\d.]+ s  `const a: number = 1 \+ 1;`/);

  // The executed notebook stops at the failure: cell 1 ran, cell 2 holds the error, cell 3 never ran.
  const executed = readNotebook(path.join(outDir, 'fail_throw.ipynb'));
  assert.equal(joined(executed.cells[0].outputs?.[0].text), '2\n');
  assert.match(joined(executed.cells[1].outputs?.find((o) => o.output_type === 'stream')?.text), /deliberate failure 42/);
  assert.deepEqual(executed.cells[2].outputs, []);
  assert.equal(executed.cells[2].execution_count, null);
});

test('a passing notebook: signed .ipynb + .html, plotly.js in the page but not the notebook, profile passed, lib folder imports work', async (t) => {
  // A folder module (index.ts) inside the project, imported from the notebook by its folder name.
  const rel = path.relative(ROOT, nbDir);
  fs.mkdirSync(path.join(nbDir, 'mod'));
  fs.writeFileSync(path.join(nbDir, 'mod', 'index.ts'), 'export const value: number = 21;\n');
  const file = writeNotebook('pass.ipynb', [
    `import { showPlot, showTable } from './lib/notebook';\nimport { getProfile } from './lib/profile';\nimport { value } from './${rel}/mod';`,
    "showPlot({ data: [{ type: 'scatter', mode: 'lines', x: [1, 2, 3, 4], y: [4, 1, 3, 2] }] });",
    'showTable([{ profile: getProfile(), value }]);',
    // A file created under a watched folder used to break every later cell (tslab's single watch
    // timer, fixed in kernels/tslab/tslab-fixes.js).
    `require('fs').writeFileSync('./${rel}/created.ts', 'export const c = 1;\\n');\nawait new Promise((r) => setTimeout(r, 2000));`,
    'value * 2',
    // A status line (training progress): one output replaced in place, the last line kept.
    "import { Progress } from './lib/util/progress';\nconst p = new Progress({ label: 'demo steps', total: 40, everySec: 0, quiet: false });\nfor (let i = 1; i <= 40; i++) { p.update(i); await new Promise((r) => setTimeout(r, 20)); }",
  ]);
  const res = runNotebooks(['--profile', 'smoke', file]);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stderr, /\(profile smoke\)/);
  assert.match(res.stderr, /all 1 notebook\(s\) passed/);

  const ipynb = path.join(outDir, 'pass.ipynb');
  const html = path.join(outDir, 'pass.html');
  assert.deepEqual(
    fs
      .readdirSync(outDir)
      .filter((f) => f.startsWith('pass'))
      .sort(),
    ['pass.html', 'pass.ipynb'],
  );
  assert.deepEqual(
    fs.readdirSync(outDir).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary files left',
  );

  const nb = readNotebook(ipynb);
  const plotOutputs = (nb.cells[1].outputs ?? []).map((o) => joined(o.data?.['text/html']));
  assert.equal(plotOutputs.length, 1);
  assert.ok(plotOutputs[0].includes('"x":[1,2,3,4],"y":[4,1,3,2]'));
  // The 4.8 MB bundle is never stored in the notebook: the executed notebook stays small.
  assert.ok(!fs.readFileSync(ipynb, 'utf8').includes('plotly.js v4.1.2'));
  assert.ok(fs.statSync(ipynb).size < 100_000, `${fs.statSync(ipynb).size} bytes`);
  const table = joined(nb.cells[2].outputs?.[0].data?.['text/html']);
  assert.match(table, />smoke<\/td>.*>21<\/td>/);
  assert.deepEqual(
    nb.cells[4].outputs?.map((o) => joined(o.text)),
    ['42\n'],
  );

  // The cell's outputs: the import note, then one status display (40 updates in place).
  const outs = nb.cells[5].outputs ?? [];
  assert.deepEqual(
    outs.map((o) => o.output_type),
    ['stream', 'display_data'],
    JSON.stringify(outs),
  );
  assert.equal(joined(outs[0].text), 'Loading ./lib/util/progress ...\n');
  const status = outs.slice(1);
  assert.match(joined(status[0].data?.['text/html']), /^<pre class="metaanchor-status"[^>]*>demo steps 40\/40 .*\(40 updates\)/);

  assert.equal(signatureValid(ipynb), true);
  const tampered = path.join(outDir, 'tampered.ipynb');
  const altered = readNotebook(ipynb);
  (altered.cells[4].outputs ?? [])[0].text = '43\n';
  fs.writeFileSync(tampered, JSON.stringify(altered));
  assert.equal(signatureValid(tampered), false);

  // The exported page carries plotly.js once, inlined in its <head>, so it opens offline.
  const page = fs.readFileSync(html, 'utf8');
  assert.equal(page.split('plotly.js v4.1.2').length - 1, 1);
  assert.ok(page.indexOf('plotly.js v4.1.2') < page.indexOf('</head>'));
  assert.ok(page.includes('class="metaanchor-plot"'));
  // The export keeps the status summary, not one line per update.
  assert.equal((page.match(/demo steps \d+\/40/g) ?? []).length, 1);

  await t.test('the HTML shows the plot offline (headless Chromium)', { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} not installed` }, () => {
    const shot = path.join(outDir, 'pass.png');
    // Both pages in one browser: the export, and the same page without its inlined library.
    const stripped = path.join(outDir, 'stripped.html');
    const withoutLibrary = page.replace(/<script type="text\/javascript">\/\*\*\n\* plotly\.js v4\.1\.2[\s\S]*?<\/script>/, '');
    assert.ok(withoutLibrary.length < page.length - 1_000_000);
    fs.writeFileSync(stripped, withoutLibrary);
    const res = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'check-html.js'), '--lines', '--shots', outDir, html, stripped], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    assert.equal(res.status, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /pass\.html: 1\/1 plot\(s\) drawn, 1 drawn line trace\(s\)/);
    assert.doesNotMatch(res.stdout.split('stripped.html')[0], /problem:/);
    assert.match(
      res.stdout,
      /stripped\.html: 0\/1 plot\(s\) drawn[^]*problem: 1 of 1 plot\(s\) not drawn[^]*problem: 1 plot\(s\) say plotly\.js is not loaded/,
    );
    assert.ok(fs.statSync(shot).size > 10_000);
  });
});
