import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, runBin as run } from '../run-bin.js';
import { buildControlApi } from '../../../firmware/control/app.js';
import { fakeAgent } from '../control/fake-agent.js';

// The CLI as users run it: the compiled bin over a real Unix socket.
if (!existsSync(bin)) {
  t.fail(`compiled CLI missing at ${bin}: run \`npm run build\` (npm test does)`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ph-cli-'));
  const socket = join(dir, 'control.sock');
  const agent = fakeAgent();
  const app = buildControlApi(agent);
  await app.listen({ path: socket });
  t.teardown(() => app.close());

  t.test('status --json prints the API body', async (t) => {
    const r = await run(['--socket', socket, 'status', '--json']);
    t.equal(r.code, 0, r.stderr);
    t.match(JSON.parse(r.stdout), {
      id: 'AAAAAAA-BBBBBBB',
      peerName: 'AAAAAAA-BBBBBBB.hub',
      nickname: 'Kitchen',
    });
  });

  t.test('status and peers as tables for people', async (t) => {
    const s = await run(['--socket', socket, 'status']);
    t.match(s.stdout, /Peer id:\s+AAAAAAA-BBBBBBB/);
    t.match(s.stdout, /Presence:\s+Online/);
    const p = await run(['peers'], { PEERHUB_SOCKET: socket });
    t.equal(p.code, 0, p.stderr);
    t.match(p.stdout, /^NICKNAME\s+STATUS\s+ID\s+TRUST\s+ENDPOINTS\s+SEEN/);
    t.match(p.stdout, /Attic\s+Busy\s+CCCCCCC\s+verified\s+10\.77\.0\.3:7443\s+2s ago/);
  });

  t.test('presence set, sign out, sign in, id', async (t) => {
    const set = await run(['--socket', socket, 'presence', 'set', 'OnThePhone', 'with', 'Bob']);
    t.equal(set.code, 0, set.stderr);
    t.equal(set.stdout.trim(), 'presence: OnThePhone — with Bob');
    t.equal(agent.state.status, 'OnThePhone');
    t.equal((await run(['--socket', socket, 'signout'])).stdout.trim(), 'signed out');
    t.equal(agent.state.scope, 'None');
    t.equal((await run(['--socket', socket, 'signin', 'All'])).stdout.trim(), 'signed in: All');
    const id = await run(['--socket', socket, 'id', '--json']);
    t.same(JSON.parse(id.stdout), { id: 'AAAAAAA-BBBBBBB', peerName: 'AAAAAAA-BBBBBBB.hub' });
  });

  t.test('usage errors exit 2 without calling the agent', async (t) => {
    const r = await run(['--socket', socket, 'presence', 'set', 'Sleeping']);
    t.equal(r.code, 2);
    t.match(r.stderr, /Allowed choices are Offline, OutToLunch/);
    t.equal(agent.state.status, 'OnThePhone');
  });

  t.test('agent not running: one clear line, exit 1', async (t) => {
    const r = await run(['--socket', join(dir, 'nobody.sock'), 'status']);
    t.equal(r.code, 1);
    t.equal(r.stderr.trim().split('\n').length, 1);
    t.match(r.stderr, /^peerhub: agent not running \(no answer on .*nobody\.sock\)/);
  });

  t.test('watch --json streams events as they happen', async (t) => {
    const p = spawn(process.execPath, [bin, '--socket', socket, 'watch', '--json']);
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    t.teardown(() => p.kill());
    // Emit until the watcher has connected and printed one (bounded: 200 × 50 ms).
    for (let i = 0; i < 200 && !out.includes('peer:found'); i++) {
      agent.bus.emit('peer:found', { nickname: 'Attic', status: 'Online' });
      await new Promise((r) => setTimeout(r, 50));
    }
    const first = JSON.parse(out.split('\n')[0]!);
    t.match(first, { type: 'peer:found', data: { nickname: 'Attic' } });
    t.type(first.id, 'number');
  });
}
