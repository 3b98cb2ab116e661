/** `npm run notebook` (scripts/notebook.js serve) started for a test on a free port, with its token. */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface Served {
  port: number;
  token: string;
  /** The printed "Notebooks:" URL. */
  url: string;
  /** JUPYTER_DATA_DIR of the server (the notary's key and signature db). */
  dataDir: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Start the server; resolves once it printed its URL (at most `timeoutMs`). */
export async function serveNotebooks(env: NodeJS.ProcessEnv = {}, timeoutMs = 90_000): Promise<Served> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-jupyter-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'notebook.js'), 'serve', '--port', String(port)], {
    cwd: ROOT,
    env: { ...process.env, JUPYTER_DATA_DIR: dataDir, JUPYTER_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed in ${timeoutMs / 1000} s\n${stdout}\n${stderr}`)), timeoutMs);
      child.stdout!.on('data', (c) => {
        stdout += c;
        const m = /Notebooks: (http:\/\/127\.0\.0\.1:\d+\/tree\/notebooks\?token=[0-9a-f]+)\n/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on('exit', () => reject(new Error(`server exited\n${stdout}\n${stderr}`)));
    });
    const token = new URL(url).searchParams.get('token') ?? '';
    return { port, token, url, dataDir, child, stdout: () => stdout, stderr: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
