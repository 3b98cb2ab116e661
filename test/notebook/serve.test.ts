/**
 * `npm run notebook` (scripts/notebook.js serve): Jupyter bound to 127.0.0.1 only, token required,
 * the printed URL carries a working token, the repo's tslab kernel spec is the one Jupyter sees,
 * and stopping the command stops the server. About 5 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Local addresses of sockets listening on `port` (Linux /proc/net/tcp and tcp6, state 0A). */
function listeningAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue;
      const [addrHex, portHex] = cols[1].split(':');
      if (parseInt(portHex, 16) !== port) continue;
      out.push(
        addrHex.length === 8
          ? addrHex
              .match(/../g)!
              .reverse()
              .map((h) => parseInt(h, 16))
              .join('.')
          : `ipv6:${addrHex}`,
      );
    }
  }
  return out;
}

test(
  'serve: loopback only, token required, printed URL works, tslab spec from the repo, stops with the command',
  { skip: os.platform() !== 'linux' && 'reads /proc/net' },
  async () => {
    const port = await freePort();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-jupyter-'));
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'notebook.js'), 'serve', '--port', String(port)], {
      cwd: ROOT,
      env: { ...process.env, JUPYTER_DATA_DIR: dataDir, JUPYTER_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed in 60 s\n${stdout}\n${stderr}`)), 60_000);
        child.stdout.on('data', (c) => {
          stdout += c;
          const m = /Notebooks: (http:\/\/127\.0\.0\.1:\d+\/tree\/notebooks\?token=[0-9a-f]+)\n/.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.on('exit', () => reject(new Error(`server exited\n${stdout}\n${stderr}`)));
      });
      // The start-up check's own refused request (a 403 by design) is not shown before the URL.
      assert.doesNotMatch(stdout + stderr, /\b403\b/);
      assert.match(stdout, new RegExp(`Executed notebooks and their HTML \\(npm run notebooks\\): http://127\\.0\\.0\\.1:${port}/tree/outputs\\?token=`));
      assert.match(stdout, new RegExp(`Remote machine\\? Tunnel it from your computer: ssh -N -L ${port}:127\\.0\\.0\\.1:${port} `));
      const token = new URL(url).searchParams.get('token') ?? '';
      assert.equal(token.length, 48);
      assert.equal(new URL(url).port, String(port));

      assert.deepEqual(listeningAddresses(port), ['127.0.0.1']);
      assert.equal((await get(port, '/api/status')).status, 403);
      assert.equal((await get(port, '/api/status?token=wrong')).status, 403);
      assert.equal((await get(port, `/api/status?token=${token}`)).status, 200);
      assert.equal((await get(port, `/tree?token=${token}`)).status, 200);
      assert.equal((await get(port, `/tree/outputs?token=${token}`)).status, 200);
      // The bundle figure outputs load (lib/notebook/plotly.ts), served as a static file.
      const bundle = await get(port, '/static/plotly.min.js');
      assert.equal(bundle.status, 200);
      assert.match(bundle.body.slice(0, 200), /plotly\.js v4\.1\.2/);
      const specs = JSON.parse((await get(port, `/api/kernelspecs?token=${token}`)).body) as {
        kernelspecs: Record<string, { spec: { argv: string[]; display_name: string } }>;
      };
      assert.equal(specs.kernelspecs.tslab.spec.display_name, 'TypeScript (MetaAnchor Lab, tslab)');
      assert.deepEqual(specs.kernelspecs.tslab.spec.argv, ['node', '{resource_dir}/launch.js', '{connection_file}']);
    } finally {
      child.kill('SIGTERM');
      const code = await exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
      void code;
    }
    assert.deepEqual(listeningAddresses(port), [], 'server stopped');
  },
);
