/**
 * The run queue (lib/experiments/queue*.ts) against a real redis-server (Debian's, started here on
 * a free loopback port, one per test, stopped after) and real `metaanchor worker` processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ensureDefaultDataset } from '../../lib/data/mnist-det';
import { isRunComplete, runDirOf } from '../../lib/experiments/run-cache';
import { queueUrlFrom, trainRuns } from '../../lib/experiments/parallel';
import { QUEUE_NAME, jobIdOf, parseQueueUrl, redactUrl } from '../../lib/experiments/queue';
import { TrainConfig, trainConfig } from '../../lib/train/config';
import { readTrainState } from '../../lib/train/trainer';
import { UserError } from '../../lib/util/errors';

const REPO = path.join(__dirname, '..', '..');
const BIN = path.join(REPO, 'bin', 'metaanchor.js');
const REDIS = '/usr/bin/redis-server';
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), `queue-${p}-`));
/** Workers give up a dead worker's job after 2 s instead of 30. */
const WORKER_ENV = { METAANCHOR_QUEUE_LOCK_MS: '2000' };
const children = new Set<ChildProcess>();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 120_000, everyMs = 50): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A throwaway redis-server: no persistence, bound to `binds`; resolves once it answers PING. Beyond
 * loopback, Redis's protected mode wants a password.
 */
async function startRedis(binds = ['127.0.0.1'], password?: string): Promise<RedisServer> {
  const port = await freePort();
  const proc = spawn(
    REDIS,
    ['--port', String(port), '--bind', ...binds, '--save', '', '--appendonly', 'no', ...(password ? ['--requirepass', password] : [])],
    { stdio: 'ignore' },
  );
  children.add(proc);
  const url = `redis://${password ? `:${password}@` : ''}127.0.0.1:${port}`;
  await waitFor(
    'redis-server',
    async () => {
      const c = new Redis({ ...parseQueueUrl(url), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    },
    10_000,
  );
  return {
    url,
    port,
    stop: () => stopChild(proc),
  };
}

function stopChild(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  children.delete(proc);
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('close', () => resolve());
    proc.kill(signal);
  });
}

interface WorkerProc {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `metaanchor worker` (optionally under `prefix`, e.g. ip netns exec); resolves once it waits for jobs. */
async function startWorker(url: string, runsDir: string, opts: { name?: string; prefix?: string[] } = {}): Promise<WorkerProc> {
  const argv = [process.execPath, BIN, 'worker', '--queue', url, '--runs-dir', runsDir];
  const [cmd, ...args] = [...(opts.prefix ?? []), ...argv];
  const proc = spawn(cmd, args, {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...WORKER_ENV, ...(opts.name ? { METAANCHOR_WORKER_NAME: opts.name } : {}) },
  });
  children.add(proc);
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor(
    'the worker to start',
    () => {
      if (proc.exitCode !== null) throw new Error(`worker exited ${proc.exitCode}: ${out}`);
      return out.includes('waiting for jobs');
    },
    60_000,
  );
  return { proc, output: () => out, stop: () => stopChild(proc) };
}

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, METAANCHOR_QUIET: '1', ...env } });

/** The CLI without blocking this process, whose event loop reads the workers' output meanwhile. */
function cliAsync(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, METAANCHOR_QUIET: '1', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Every number a run produced: per-step losses and its validations' COCO stats. */
function runNumbers(dir: string): { losses: number[][]; evals: number[][] } {
  const st = readTrainState(dir);
  return { losses: st.history.map((h) => [h.step, h.loss, h.cls, h.box, h.positives, h.gradNorm]), evals: st.evals.map((e) => [e.step, ...e.stats]) };
}

const took = (w: WorkerProc) =>
  w
    .output()
    .split('\n')
    .filter((l) => / took /.test(l));

before(async () => {
  // Workers check at start that the data is there; the submitter makes it (here: once, up front).
  await ensureDefaultDataset();
});

after(async () => {
  await Promise.all([...children].map((c) => stopChild(c, 'SIGKILL')));
});

test('queue URLs: redis:// with password and db, passwords hidden in messages, env METAANCHOR_QUEUE as the default', () => {
  assert.deepEqual(parseQueueUrl('redis://:s3cret@10.0.0.5:6380/2'), { host: '10.0.0.5', port: 6380, password: 's3cret', db: 2, maxRetriesPerRequest: null });
  assert.deepEqual(parseQueueUrl('redis://redis'), { host: 'redis', port: 6379, maxRetriesPerRequest: null });
  assert.throws(
    () => parseQueueUrl('http://x:1'),
    (e: unknown) => e instanceof UserError && e.message === '--queue expects a Redis URL, got "http://x:1"',
  );
  assert.throws(() => parseQueueUrl('127.0.0.1:6379'), UserError);
  assert.equal(redactUrl('redis://:s3cret@h:1/2'), 'redis://:***@h:1/2');
  assert.equal(redactUrl('redis://h:1'), 'redis://h:1');
  assert.equal(queueUrlFrom(undefined, { METAANCHOR_QUEUE: ' redis://h:1 ' }), 'redis://h:1');
  assert.equal(queueUrlFrom('redis://a:1', { METAANCHOR_QUEUE: 'redis://h:1' }), 'redis://a:1');
  assert.equal(queueUrlFrom(undefined, { METAANCHOR_QUEUE: '' }), undefined);
  assert.equal(jobIdOf(trainConfig('smoke', { seed: 3 })), path.basename(runDirOf('/x', trainConfig('smoke', { seed: 3 }))));
});

test('a smoke table on 2 queue workers prints exactly the one-process table, with the same numbers', async () => {
  const redis = await startRedis();
  const oneDir = tmp('one');
  const qDir = tmp('runs');
  try {
    const args = ['table', '2', '--profile', 'smoke', '--rows', '0.5/0.4 3x3,0.6/0.5 3x3'];
    const one = cli([...args, '--jobs', '1', '--runs-dir', oneDir]);
    assert.equal(one.status, 0, one.stderr);
    const workers = [await startWorker(redis.url, qDir, { name: 'w1' }), await startWorker(redis.url, qDir, { name: 'w2' })];
    const queued = await cliAsync([...args, '--queue', redis.url, '--runs-dir', qDir], { METAANCHOR_QUIET: '0' });
    assert.equal(queued.status, 0, queued.stderr);
    // Only the wall time at the end of the "runs:" line may differ.
    const strip = (s: string) => s.replace(/; [0-9.]+ s$/m, '; <time>');
    assert.match(queued.stdout, /runs: 4 trained, 0 resumed, 0 reused; evaluations: 4 computed, 0 cached/);
    assert.equal(strip(queued.stdout), strip(one.stdout));
    assert.match(queued.stderr, /^queue: 4 of 4 runs submitted to redis:\/\/127\.0\.0\.1:\d+; waiting for workers$/m);
    assert.equal(queued.stderr.split('\n').filter((l) => /^training: trained \S+ in [0-9hms]+ on w[12]$/.test(l)).length, 4, queued.stderr);
    // Both workers trained; each run once.
    const taken = workers.flatMap(took);
    assert.equal(taken.length, 4, taken.join('\n'));
    assert.ok(took(workers[0]).length > 0 && took(workers[1]).length > 0, taken.join('\n'));
    const runs = fs.readdirSync(oneDir).sort();
    assert.deepEqual(
      fs
        .readdirSync(qDir)
        .filter((d) => !d.startsWith('.'))
        .sort(),
      runs,
    );
    for (const run of runs) assert.deepEqual(runNumbers(path.join(qDir, run)), runNumbers(path.join(oneDir, run)), run);
    // Submitting again finds every run finished on disk: nothing is queued.
    const again = await cliAsync([...args, '--queue', redis.url, '--runs-dir', qDir]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /runs: 0 trained, 0 resumed, 4 reused; evaluations: 0 computed, 4 cached/);
    await Promise.all(workers.map((w) => w.stop()));
    assert.equal(workers.flatMap(took).length, 4);
  } finally {
    await redis.stop();
  }
});

/** A smoke run long enough to be killed in the middle: 16 steps, a checkpoint every 2. */
const longRun = (seed: number): TrainConfig => trainConfig('smoke', { steps: 16, seed });

test('a worker killed with SIGKILL mid-run: another takes the job and resumes from the checkpoint, with the numbers of an uninterrupted run', async () => {
  const redis = await startRedis();
  const cfg = longRun(11);
  const refDir = tmp('ref');
  const dir = tmp('runs');
  try {
    await trainRuns([cfg], refDir, { jobs: 1, quiet: true });
    const a = await startWorker(redis.url, dir, { name: 'a' });
    const pending = trainRuns([cfg], dir, { queue: redis.url, quiet: true });
    const log = path.join(runDirOf(dir, cfg), 'log.jsonl');
    const steps = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);
    // Step 5 logged: the checkpoint of step 4 is written.
    await waitFor('step 5 of the run', () => steps() >= 5, 120_000, 10);
    const killedAt = steps();
    a.proc.kill('SIGKILL');
    assert.ok(killedAt < cfg.steps, `the run finished before the kill (${killedAt} steps)`);
    const b = await startWorker(redis.url, dir, { name: 'b' });
    const r = await pending;
    const runDir = runDirOf(dir, cfg);
    assert.equal(r.status.get(runDir), 'resumed');
    const resumedAt = Number(/b: \S+ resumes at step (\d+)\/16/.exec(b.output())?.[1]);
    // The checkpoint of step 4 or a later one (the orphaned trainer may finish a step before it notices).
    assert.ok(resumedAt >= 4 && resumedAt < cfg.steps && resumedAt % 2 === 0, `${b.output()}\nkilled at ${killedAt}`);
    assert.equal(took(b).length, 1);
    assert.ok(isRunComplete(runDir, cfg));
    assert.deepEqual(runNumbers(runDir), runNumbers(runDirOf(refDir, cfg)));
    assert.equal(fs.existsSync(path.join(runDir, 'training.lock')), false);
    await b.stop();
  } finally {
    await redis.stop();
  }
});

test('submitting the same runs twice at once trains each once', async () => {
  const redis = await startRedis();
  const dir = tmp('runs');
  const cfgs = [trainConfig('smoke', { seed: 21 }), trainConfig('smoke', { seed: 22 })];
  try {
    const w = await startWorker(redis.url, dir, { name: 'solo' });
    const [r1, r2] = await Promise.all([trainRuns(cfgs, dir, { queue: redis.url, quiet: true }), trainRuns(cfgs, dir, { queue: redis.url, quiet: true })]);
    for (const cfg of cfgs) {
      const d = runDirOf(dir, cfg);
      assert.equal(r1.status.get(d), 'trained');
      assert.equal(r2.status.get(d), 'trained');
      assert.equal(readTrainState(d).history.length, cfg.steps);
    }
    assert.deepEqual(
      took(w)
        .map((l) => l.split(' took ')[1].split(' ')[0])
        .sort(),
      cfgs.map(jobIdOf).sort(),
    );
    const r3 = await trainRuns(cfgs, dir, { queue: redis.url, quiet: true });
    assert.deepEqual([...r3.status.values()], ['reused', 'reused']);
    await w.stop();
    assert.equal(took(w).length, 2);
  } finally {
    await redis.stop();
  }
});

test('a run failing for a real reason fails once, with its message at the submitter; a worker says what its setup lacks', async () => {
  const redis = await startRedis();
  const dir = tmp('runs');
  const missing = path.join(tmp('data'), 'nowhere.json');
  const bad = trainConfig('smoke', { seed: 31, train: { kind: 'coco', annotations: missing, images: path.dirname(missing) } });
  try {
    const w = await startWorker(redis.url, dir, { name: 'w' });
    await assert.rejects(trainRuns([bad], dir, { queue: redis.url, quiet: true }), (err: unknown) => {
      assert.ok(err instanceof UserError, String(err));
      assert.match(err.message, new RegExp(`^training run ${jobIdOf(bad)} failed: .*nowhere\\.json.* \\(on w\\)$`));
      return true;
    });
    const queue = new Queue(QUEUE_NAME, { connection: parseQueueUrl(redis.url) });
    const job = await queue.getJob(jobIdOf(bad));
    assert.equal(await job!.getState(), 'failed');
    assert.equal(job!.attemptsMade, 1);
    await queue.close();
    // Diverging training (an absurd learning rate): the gradient norm is NaN from step 2 on.
    const base = trainConfig('smoke');
    const nan = trainConfig('smoke', { seed: 32, lr: { ...base.lr, baseLr: 1e30, warmupFactor: 1 } });
    await assert.rejects(trainRuns([nan], dir, { queue: redis.url, quiet: true }), (err: unknown) => {
      assert.ok(err instanceof UserError, String(err));
      assert.equal(err.message, `training run ${jobIdOf(nan)} failed: the gradient norm is NaN at step 2 (on w)`);
      assert.match(err.hint ?? '', /lower the learning rate/);
      return true;
    });
    // Not retried: still one attempt each a while later.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(took(w).length, 2);
    await w.stop();

    const noQueue = `redis://127.0.0.1:${await freePort()}`;
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    const cases: [string[], Record<string, string>, RegExp, RegExp][] = [
      [['--runs-dir', file], {}, /^error: the runs folder .*a-file is a file, not a folder$/m, /hint: give every worker a runs folder it can write/],
      [
        ['--runs-dir', dir],
        { METAANCHOR_DATA_DIR: tmp('empty') },
        /^error: no MNIST-Det data at .*mnist-det \(mnist-det\.json is missing\)$/m,
        /hint: mount the submitter's data folder here and set METAANCHOR_DATA_DIR/,
      ],
      [['--runs-dir', dir, '--queue', noQueue], {}, /^error: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: /m, /hint: start redis-server there/],
    ];
    for (const [args, env, error, hint] of cases) {
      const r = cli(['worker', ...(args.includes('--queue') ? [] : ['--queue', redis.url]), ...args], env);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, error);
      assert.match(r.stderr, hint);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  } finally {
    await redis.stop();
  }
});

/** Root and a working `ip netns`: the workers get network namespaces of their own. */
function netnsUsable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (ip netns)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `no usable \`ip netns\` (${r.error?.message ?? r.stderr.trim()})`;
  return undefined;
}

const skipNetns = netnsUsable();

test(
  'workers in their own network namespaces reach Redis over a veth link, as separate hosts would',
  { skip: skipNetns ? `skipped: ${skipNetns}` : false },
  async () => {
    const ip = (...args: string[]) => {
      const r = spawnSync('ip', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    };
    const tag = (process.pid % 10_000).toString();
    const hosts = [0, 1].map((i) => ({
      ns: `ma-q${tag}-${i}`,
      outer: `maq${tag}o${i}`,
      inner: `maq${tag}i${i}`,
      hostIp: `10.231.${i}.1`,
      nsIp: `10.231.${i}.2`,
    }));
    const made: string[] = [];
    const dir = tmp('runs');
    let redis: RedisServer | undefined;
    try {
      for (const h of hosts) {
        ip('netns', 'add', h.ns);
        made.push(h.ns);
        ip('link', 'add', h.outer, 'type', 'veth', 'peer', 'name', h.inner);
        ip('link', 'set', h.inner, 'netns', h.ns);
        ip('addr', 'add', `${h.hostIp}/30`, 'dev', h.outer);
        ip('link', 'set', h.outer, 'up');
        ip('netns', 'exec', h.ns, 'ip', 'addr', 'add', `${h.nsIp}/30`, 'dev', h.inner);
        ip('netns', 'exec', h.ns, 'ip', 'link', 'set', h.inner, 'up');
        ip('netns', 'exec', h.ns, 'ip', 'link', 'set', 'lo', 'up');
      }
      redis = await startRedis(['127.0.0.1', ...hosts.map((h) => h.hostIp)], 'queue-test');
      const workers = [];
      for (const h of hosts)
        workers.push(await startWorker(`redis://:queue-test@${h.hostIp}:${redis.port}`, dir, { name: h.ns, prefix: ['ip', 'netns', 'exec', h.ns] }));
      // Seen from Redis, the workers connect from their namespaces' addresses.
      const c = new Redis(parseQueueUrl(redis.url));
      const clients = String(await c.call('CLIENT', 'LIST'));
      c.disconnect();
      for (const h of hosts) assert.match(clients, new RegExp(`addr=${h.nsIp.replace(/\./g, '\\.')}:`), clients);
      const cfgs = [trainConfig('smoke', { seed: 41 }), trainConfig('smoke', { seed: 42 })];
      const r = await trainRuns(cfgs, dir, { queue: redis.url, quiet: true });
      for (const cfg of cfgs) assert.equal(r.status.get(runDirOf(dir, cfg)), 'trained');
      const queue = new Queue(QUEUE_NAME, { connection: parseQueueUrl(redis.url) });
      const by = await Promise.all(cfgs.map(async (cfg) => (await queue.getJob(jobIdOf(cfg)))!.returnvalue.host as string));
      await queue.close();
      for (const host of by)
        assert.ok(
          hosts.some((h) => h.ns === host),
          by.join(', '),
        );
      await Promise.all(workers.map((w) => w.stop()));
    } finally {
      await redis?.stop();
      for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
    }
  },
);
