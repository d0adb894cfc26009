import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePeer, startServer, until } from './helpers.js';

const [a, b] = await Promise.all([makePeer(), makePeer()]);

/** Run a command with stdin closed; bounded by `ms`. */
function run(cmd: string, args: string[], ms: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.stdin.end();
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

t.test('openssl s_client completes a TLS 1.3 handshake with client certificate', async (t) => {
  const server = await startServer(t, a);
  const dir = mkdtempSync(join(tmpdir(), 'peerhub-wire-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, data: string): string => {
    writeFileSync(join(dir, name), data, { mode: 0o600 });
    return join(dir, name);
  };
  const args = [
    's_client',
    '-connect',
    `127.0.0.1:${server.port}`,
    '-tls1_3',
    '-alpn',
    'h2',
    '-cert',
    file('leaf.pem', b.creds.chainPem[0] as string),
    '-cert_chain',
    file('chain.pem', b.rootCertPem),
    '-key',
    file('key.pem', b.creds.keyPem),
    '-CAfile',
    file('ca.pem', a.rootCertPem),
    '-verify_return_error',
  ];
  const { out } = await run('openssl', args, 10_000);
  t.match(out, /TLSv1\.3/);
  t.match(out, /ALPN protocol: h2/);
  t.match(out, /Verify return code: 0 \(ok\)/);
  t.ok(await until(() => server.counters().sessions === 1, 2000), 'our server accepted the client chain');
  t.equal(server.counters().rejectedChains, 0);

  const tls12 = await run('openssl', [...args.slice(0, 3), '-tls1_2'], 10_000);
  t.match(tls12.out, /alert protocol version/, 'TLS 1.2 is refused');
  t.match(tls12.out, /Cipher is \(NONE\)/);
});
