import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, runBin as run } from './run-bin.js';
import { startAgent, type Agent } from '../../firmware/agent.js';
import { call } from '../../firmware/cli/client.js';
import { loadConfig } from '../../firmware/config/load.js';
import { systemClock } from '../../firmware/core/clock.js';
import { silentLogger } from '../../firmware/core/logger.js';
import type { StatusView } from '../../firmware/control/types.js';
import { createTestLan } from '../../firmware/presence/index.js';
import type { NearbyPeer } from '../../firmware/presence/types.js';
import { until } from './wait.js';

// Whole agents in one process: real identity files, store, control socket and CLI client; the LAN is
// the in-memory one (the lab runs the same with real sockets in namespaces).
const lan = createTestLan({ clock: systemClock });

async function hub(
  t: Test,
  nickname: string,
  ip: string,
  dataDir?: string,
): Promise<Agent & { sock: string }> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'ph-agent-'));
  const config = loadConfig({ env: { HOME: dir }, flags: { data_dir: dir, nickname } });
  const agent = await startAgent(config, silentLogger(), { transport: lan.transport(ip), peerListenPort: 0 });
  t.teardown(() => agent.stop());
  return Object.assign(agent, { sock: config.control_socket });
}

const peers = (sock: string): Promise<NearbyPeer[]> => call<NearbyPeer[]>(sock, 'GET', '/v1/peers');

t.test('two agents see each other, a status change and a sign-out', async (t) => {
  const a = await hub(t, 'Kitchen', '10.1.0.1');
  const b = await hub(t, 'Attic', '10.1.0.2');
  const seenByA = await until('A sees B', async () =>
    (await peers(a.sock)).find((p) => p.nickname === 'Attic'),
  );
  t.equal(seenByA.id, b.identity.peerId);
  t.equal(seenByA.status, 'Online');
  t.ok(seenByA.wellFormed);
  t.same(seenByA.endpoints, ['10.1.0.2:7443']);

  await call(b.sock, 'PUT', '/v1/presence', { status: 'Busy', text: 'call' });
  await until('A sees Busy', async () =>
    (await peers(a.sock)).find((p) => p.id === b.identity.peerId && p.status === 'Busy'),
  );

  const s = await call<StatusView>(b.sock, 'GET', '/v1/status');
  t.match(s, { nickname: 'Attic', scope: 'NearMe', presence: { status: 'Busy', text: 'call' } });
  t.match(
    s,
    { version: /^\d+\.\d+\.\d+/, uptimeMs: Number, memory: { rss: Number } },
    'uptime, version, memory',
  );
  t.match(s.counts, { peers: 1, contacts: 0, invitations: 0, pendingInvitations: 0, sessions: 0 }, 'counts');
  // Start-up figures: process time and CPU until ready, in the status and on the ready event.
  const ready = b.bus.since(0).find((e) => e.type === 'agent:ready') as
    { data: { readyMs: number; cpuMs: number } } | undefined;
  t.match(ready?.data, { id: b.identity.peerId, readyMs: Number, cpuMs: Number }, 'ready event');
  t.same(s.startup, { readyMs: ready?.data.readyMs, cpuMs: ready?.data.cpuMs }, 'status startup');
  t.ok((s.startup?.readyMs ?? 0) > 0 && (s.startup?.cpuMs ?? 0) > 0, 'both measured');
  t.ok((s.startup?.readyMs ?? 0) <= process.uptime() * 1000, 'ready within the process lifetime');
  t.ok(Array.isArray(s.interfaces), 'interfaces listed');
  t.notOk(
    s.interfaces?.some((i) => i.addresses.some((a) => a.startsWith('127.'))),
    'loopback left out',
  );
  const human = await run(['--socket', b.sock, 'status']);
  t.match(human.stdout, /Memory:\s+[\d.]+ MB resident/);
  t.match(human.stdout, /Started:\s+ready after \d+\.\d\d s \(CPU \d+\.\d\d s\)/);
  t.match(human.stdout, /Peers near me:\s+1 \(\d verified\)/);
  t.match(human.stdout, /Invitations:\s+0 \(0 pending\)/);
  t.match(human.stdout, /Sessions:\s+0 \(0 open\)/);

  await call(b.sock, 'POST', '/v1/signout', {});
  await until('A loses B', async () =>
    (await peers(a.sock)).some((p) => p.id === b.identity.peerId) ? undefined : true,
  );
  const lost = a.bus.since(0).find((e) => e.type === 'peer:lost');
  t.match(lost?.data, { reason: 'goodbye' });
});

t.test('restart keeps identity, presence and scope', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-agent-'));
  const first = await hub(t, 'Den', '10.1.0.3', dir);
  await call(first.sock, 'PUT', '/v1/presence', { status: 'Away', text: 'lunch' });
  await call(first.sock, 'POST', '/v1/signin', { scope: 'All' });
  const id = first.identity.peerId;
  t.equal(statSync(first.config.control_socket).mode & 0o777, 0o660, 'control socket is 0660');
  await first.stop();
  t.equal(statSync(join(dir, 'identity', 'root.key.pem')).mode & 0o777, 0o600);
  const again = await hub(t, 'Den', '10.1.0.3', dir);
  t.equal(again.identity.peerId, id);
  const s = await call<StatusView>(again.sock, 'GET', '/v1/status');
  t.match(s, { id, scope: 'All', presence: { status: 'Away', text: 'lunch' } });
});

t.test('a second agent on the same socket is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-agent-'));
  await hub(t, 'Hall', '10.1.0.4', dir);
  const config = loadConfig({ env: { HOME: dir }, flags: { data_dir: dir, nickname: 'Hall' } });
  await t.rejects(
    startAgent(config, silentLogger(), { transport: lan.transport('10.1.0.5'), peerListenPort: 0 }),
    {
      message: /another agent is already answering/,
    },
  );
});

// The compiled binary, for what a user sees at the terminal (no network is opened in these cases).
const runBin = (args: string[]) => run(args, { HOME: tmpdir() });
if (!existsSync(bin)) t.fail(`compiled CLI missing at ${bin}: run \`npm run build\` (npm test does)`);

t.test('bad configuration: one line naming the key, exit 2', async (t) => {
  const r = await runBin(['agent', '--port', '70000']);
  t.equal(r.code, 2);
  t.equal(r.stderr, 'peerhub: invalid configuration: port (--port): must be <= 65535\n');
  const cfg = join(mkdtempSync(join(tmpdir(), 'ph-cfg-')), 'p.toml');
  writeFileSync(cfg, '[presence]\nttl_host = "soon"\n');
  const f = await runBin(['agent', '--config', cfg]);
  t.equal(f.code, 2);
  t.equal(f.stderr, `peerhub: invalid configuration: presence.ttl_host (in ${cfg}): must be integer\n`);
});

t.test('corrupt identity: refuses to start, says how to recover, touches nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-agent-'));
  const a = await hub(t, 'Loft', '10.1.0.6', dir);
  await a.stop();
  const key = join(dir, 'identity', 'root.key.pem');
  const broken = readFileSync(key, 'utf8').slice(0, 200);
  writeFileSync(key, broken);
  const r = await runBin(['agent', '--data-dir', dir]);
  t.equal(r.code, 1);
  t.match(r.stderr, /root\.key\.pem/);
  t.match(r.stderr, /new identity/i);
  t.equal(readFileSync(key, 'utf8'), broken, 'the damaged file is left as it was');
});
