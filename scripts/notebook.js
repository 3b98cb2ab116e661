#!/usr/bin/env node
// Notebook tooling (docs/DESIGN.md section 5).
//
//   npm run notebook  [-- --port 8888] [-- --profile quick]
//       Jupyter Notebook on the project (notebooks/ and outputs/), bound to 127.0.0.1 with a token;
//       prints the URL to open.
//   npm run notebooks [-- --profile smoke|quick|full] [-- --timeout <s>] [-- --out <dir>] [-- --jobs <n>] [-- <notebook> ...]
//       Executes notebooks headlessly cell by cell (scripts/run_notebooks.py) and writes the executed
//       <name>.ipynb (signed) and <name>.html under outputs/.
//
// Both use Debian's Jupyter through /usr/bin/python3 (the python3 on PATH may be another one) and the
// tslab kernel spec kept in kernels/tslab, found by putting the project root on JUPYTER_PATH.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Command, InvalidArgumentError } = require('commander');

// lib/profile.ts is the one definition of the profiles; tsx loads it without a build step.
require('tsx/cjs/api').register();
const { parseProfile, getProfile } = require('../lib/profile.ts');
const { UserError, formatError } = require('../lib/util/errors.ts');

const ROOT = path.resolve(__dirname, '..');
const NOTEBOOK_DIR = path.join(ROOT, 'notebooks');
const PYTHON = '/usr/bin/python3';
const RUNNER = path.join(__dirname, 'run_notebooks.py');
const JUPYTER_EXTRAS = path.join(__dirname, 'jupyter');
const LOOPBACK = '127.0.0.1';
// Query parameter of the start-up check's requests, so that their log lines can be left out.
const CHECK_MARK = 'metaanchor-start-check';

// Per-cell timeout by profile, in seconds (0 = none): a stuck smoke cell should fail fast, while a
// full-profile cell may train for hours.
const CELL_TIMEOUT_S = { smoke: 300, quick: 3600, full: 0 };

function jupyterEnv(profile) {
  const env = { ...process.env };
  // Our kernels/ first, so that kernel name "tslab" means this project's spec even when a global
  // tslab spec is installed.
  env.JUPYTER_PATH = [ROOT, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter);
  env.METAANCHOR_PROFILE = profile;
  // The kernel spec starts `node` from PATH: make that the node running this script.
  env.PATH = [path.dirname(process.execPath), process.env.PATH].filter(Boolean).join(path.delimiter);
  return env;
}

function checkInstalled(pythonModules) {
  if (!fs.existsSync(path.join(ROOT, 'node_modules', 'tslab', 'dist', 'main.js'))) {
    throw new UserError('tslab is not installed in node_modules', 'run `npm ci` (or `bash scripts/setup.sh`)');
  }
  const probe = spawnSync(PYTHON, ['-c', `import ${pythonModules.join(', ')}`], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new UserError(
      `${PYTHON} cannot import ${pythonModules.join(', ')} (Debian's Jupyter packages are missing)`,
      'run `bash scripts/setup.sh` (installs jupyter-notebook, jupyter-nbconvert, python3-nbclient, ... with apt)',
    );
  }
}

function profileOption(value) {
  try {
    return parseProfile(value);
  } catch (err) {
    throw new InvalidArgumentError(err.message);
  }
}

function nonNegativeNumber(value) {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds >= 0');
  return n;
}

function portOption(value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a port 1-65535');
  return n;
}

/** All notebooks of notebooks/, in name order (00_..., 01_...). */
function listNotebooks() {
  if (!fs.existsSync(NOTEBOOK_DIR)) return [];
  return fs
    .readdirSync(NOTEBOOK_DIR)
    .filter((f) => f.endsWith('.ipynb') && !f.startsWith('.'))
    .sort()
    .map((f) => path.join(NOTEBOOK_DIR, f));
}

/** A notebook given as a path, a file name in notebooks/, or a unique prefix of one ("00"). */
function resolveNotebook(name, available) {
  for (const candidate of [name, `${name}.ipynb`]) {
    if (candidate.endsWith('.ipynb') && fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return path.resolve(candidate);
    }
  }
  const base = path.basename(name).replace(/\.ipynb$/, '');
  const matches = available.filter((p) => path.basename(p, '.ipynb').startsWith(base));
  const exact = matches.find((p) => path.basename(p, '.ipynb') === base);
  if (exact) return exact;
  if (matches.length === 1) return matches[0];
  const names = available.map((p) => path.basename(p)).join(', ') || '(none)';
  if (matches.length === 0) {
    throw new UserError(`no notebook "${name}"`, `give a path or one of: ${names}`);
  }
  throw new UserError(
    `"${name}" matches several notebooks: ${matches.map((p) => path.basename(p)).join(', ')}`,
    'give more of the name',
  );
}

function runCommand(names, opts) {
  checkInstalled(['nbclient', 'nbformat', 'nbconvert']);
  const profile = opts.profile ?? getProfile();
  const available = listNotebooks();
  const notebooks = names.length ? names.map((n) => resolveNotebook(n, available)) : available;
  if (notebooks.length === 0) throw new UserError(`no notebooks in ${NOTEBOOK_DIR}`);
  const timeoutS = opts.timeout ?? CELL_TIMEOUT_S[profile];
  const outDir = path.resolve(opts.out);
  const jobs = opts.jobs ?? defaultNotebookJobs(profile);
  const args = [RUNNER, '--out-dir', outDir, '--timeout', String(timeoutS), '--jobs', String(jobs), ...notebooks];
  const child = spawn(PYTHON, args, { stdio: 'inherit', env: jupyterEnv(profile) });
  // Ctrl-C reaches the runner too (same process group); it shuts its kernel down, then exits.
  forwardSignals(child, ['SIGTERM', 'SIGHUP']);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
}

/**
 * Notebooks executed at once. Smoke notebooks train tiny runs in their kernel (one core each) and
 * spend much of their time starting a kernel and compiling the library: two at once use both cores
 * of a 2-core machine. Quick and full notebooks train with one worker per core themselves: one at a
 * time.
 */
function defaultNotebookJobs(profile) {
  if (profile !== 'smoke') return 1;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(2, cores));
}

function positiveInteger(value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

/**
 * Keep this process alive until the child exits: SIGINT (Ctrl-C, delivered to the whole process
 * group) is left to the child; the given signals are passed on to it.
 */
function forwardSignals(child, signals) {
  process.on('SIGINT', () => {});
  for (const sig of signals) process.on(sig, () => child.kill(sig));
}

/** GET a path on the local server; resolves with the HTTP status. */
function httpStatus(port, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: LOOPBACK, port, path: urlPath, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function serveCommand(opts) {
  checkInstalled(['notebook', 'nbformat']);
  const profile = opts.profile ?? getProfile();
  const env = jupyterEnv(profile);
  // The front-end extension that shows a running cell's live outputs in a page opened meanwhile
  // (scripts/jupyter/nbextensions/metaanchor/live-outputs.js): served from a JUPYTER_PATH folder,
  // enabled by the nbconfig of a JUPYTER_CONFIG_PATH folder (the user's own config stays in use).
  env.JUPYTER_PATH = [env.JUPYTER_PATH, JUPYTER_EXTRAS].join(path.delimiter);
  env.JUPYTER_CONFIG_PATH = [path.join(JUPYTER_EXTRAS, 'config'), process.env.JUPYTER_CONFIG_PATH].filter(Boolean).join(path.delimiter);
  // Our own random token, passed in the environment: command-line arguments are visible to every
  // user of the machine in `ps`, the environment is not. Jupyter's default token handling stays on.
  const token = process.env.JUPYTER_TOKEN && process.env.JUPYTER_TOKEN.trim() !== ''
    ? process.env.JUPYTER_TOKEN
    : crypto.randomBytes(24).toString('hex');
  env.JUPYTER_TOKEN = token;
  // The server's root is the project, so that both notebooks/ and the executed outputs/ can be opened;
  // the printed URL opens notebooks/.
  env.PYTHONPATH = [__dirname, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  const args = [
    '-m', 'notebook',
    `--ip=${LOOPBACK}`,
    `--port=${opts.port}`,
    '--no-browser',
    `--notebook-dir=${ROOT}`,
    '--NotebookApp.allow_remote_access=False',
    // Figure outputs load plotly.js from {base_url}static/plotly.min.js (lib/notebook/plotly.ts).
    `--NotebookApp.extra_static_paths=${path.dirname(require.resolve('plotly.js-dist-min/plotly.min.js'))}`,
    // Cell ids before signing, so that a saved notebook reopens trusted (scripts/notebook_hooks.py).
    '--FileContentsManager.pre_save_hook=notebook_hooks.fill_cell_ids',
  ];
  // Notebook 6 refuses to start as root without this; the machines this project runs on use root.
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--allow-root');

  fs.mkdirSync(path.join(ROOT, 'outputs'), { recursive: true });
  const child = spawn(PYTHON, args, { stdio: ['inherit', 'pipe', 'pipe'], env });
  // Jupyter handles Ctrl-C itself (asks, or stops on a second one); other stop signals are passed on
  // so that it shuts its kernels down instead of being orphaned.
  forwardSignals(child, ['SIGTERM', 'SIGHUP']);
  let announced = false;
  let seen = '';
  const onOutput = (stream) => {
    let partial = '';
    return (chunk) => {
      // Whole lines only, without the server's log line of our own anonymous check (a 403 by design).
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop();
      const shown = lines.filter((line) => !line.includes(CHECK_MARK));
      if (shown.length) stream.write(shown.map((line) => line + '\n').join(''));
      if (announced) return;
      seen += lines.join('\n') + '\n';
    const running = /is running at:\s*\n.*http:\/\/127\.0\.0\.1:(\d+)\//.exec(seen);
    if (/authentication is disabled/i.test(seen)) {
      announced = true;
      refuse(child, 'Jupyter started with authentication disabled (a Jupyter config file sets an empty token and no password)');
    } else if (running) {
      announced = true;
      verifyAndAnnounce(child, Number(running[1]), token, profile);
    }
    };
  };
  child.stdout.on('data', onOutput(process.stdout));
  child.stderr.on('data', onOutput(process.stderr));
  child.on('exit', (code, signal) => process.exit(process.exitCode || (code ?? (signal ? 0 : 1))));
}

function refuse(child, why) {
  process.stderr.write(
    `\n${formatError(new UserError(`${why}; stopped it`, 'remove NotebookApp.token = \'\' from ~/.jupyter/jupyter_notebook_config.*'))}\n`,
  );
  child.kill('SIGTERM');
  process.exitCode = 1;
}

async function verifyAndAnnounce(child, port, token, profile) {
  // Prove that the server wants the token: without it the API must refuse, with it accept.
  try {
    const anonymous = await httpStatus(port, `/api/status?${CHECK_MARK}`);
    const withToken = await httpStatus(port, `/api/status?${CHECK_MARK}&token=${token}`);
    if (anonymous < 400) {
      refuse(child, `Jupyter answers without a token on port ${port}`);
      return;
    }
    if (withToken !== 200) {
      process.stderr.write(
        `\nnote: the server did not accept the generated token (HTTP ${withToken}); a Jupyter config file sets its own token or password: use that.\n`,
      );
      return;
    }
  } catch (err) {
    process.stderr.write(`\nnote: could not check the server on port ${port}: ${err.message}\n`);
  }
  const user = os.userInfo().username;
  process.stdout.write(
    [
      '',
      `Notebooks: http://${LOOPBACK}:${port}/tree/notebooks?token=${token}`,
      `Executed notebooks and their HTML (npm run notebooks): http://${LOOPBACK}:${port}/tree/outputs?token=${token}`,
      `Remote machine? Tunnel it from your computer: ssh -N -L ${port}:${LOOPBACK}:${port} ${user}@${os.hostname()}  then open the URL above there.`,
      `(kernel: tslab from ${path.join(ROOT, 'node_modules')}; METAANCHOR_PROFILE=${profile}; Ctrl-C twice to stop)`,
      '',
    ].join('\n'),
  );
}

function main(argv) {
  const program = new Command('notebook.js')
    .description('Serve or run the project notebooks (tslab kernel)')
    .showHelpAfterError();
  program
    .command('serve')
    .description('serve notebooks/ with Jupyter Notebook on 127.0.0.1 (token required)')
    .option('--port <n>', 'port (Jupyter takes the next free one if busy)', portOption, 8888)
    .option('--profile <name>', 'METAANCHOR_PROFILE for the kernels: smoke | quick | full', profileOption)
    .action((opts) => serveCommand(opts));
  program
    .command('run')
    .description('execute notebooks headlessly; write executed .ipynb + .html')
    .argument('[notebooks...]', 'names in notebooks/ (or paths, or unique prefixes); default: all')
    .option('--profile <name>', 'smoke | quick | full (default: env METAANCHOR_PROFILE, else quick)', profileOption)
    .option('--timeout <s>', 'per-cell timeout in seconds, 0 = none (default: smoke 300, quick 3600, full none)', nonNegativeNumber)
    .option('--out <dir>', 'output folder', path.join(ROOT, 'outputs'))
    .option('--jobs <n>', 'notebooks executed at once (default: smoke 2 on a machine with 2+ cores, else 1)', positiveInteger)
    .action((names, opts) => runCommand(names, opts));
  program.parse(argv);
}

try {
  main(process.argv);
} catch (err) {
  process.stderr.write(formatError(err) + '\n');
  process.exit(err instanceof UserError ? 2 : 1);
}
