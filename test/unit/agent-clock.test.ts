import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startAgent, type Agent } from '../../firmware/agent.js';
import { call } from '../../firmware/cli/client.js';
import { loadConfig } from '../../firmware/config/load.js';
import { systemClock, type Clock } from '../../firmware/core/clock.js';
import { silentLogger } from '../../firmware/core/logger.js';
import type { ContactView } from '../../firmware/control/contacts-types.js';
import type { PeerRow } from '../../firmware/control/types.js';
import { createTestLan } from '../../firmware/presence/index.js';
import { freePort, until } from './wait.js';

// A Pi without RTC boots believing it is 1970. Two whole agents, mDNS on the in-memory LAN, the peer
// API over real mutual TLS on loopback addresses (127.0.0.2/.3): the 1970 hub still starts, is
// verified by a hub with a correct clock, and the two exchange contacts and pushed presence.
const lan = createTestLan({ clock: systemClock });
const in1970: Clock = { now: () => Date.now() - Date.UTC(2026, 0, 1), setTimer: systemClock.setTimer };

async function hub(nickname: string, ip: string, clock: Clock): Promise<Agent & { sock: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ph-clock-'));
  const port = String(await freePort());
  const config = loadConfig({ env: { HOME: dir }, flags: { data_dir: dir, nickname, port } });
  const agent = await startAgent(config, silentLogger(), { transport: lan.transport(ip), clock });
  t.teardown(() => agent.stop());
  return Object.assign(agent, { sock: config.control_socket });
}

t.test('a hub whose clock reads 1970 starts, is verified, and talks to its contacts', async (t) => {
  const old = await hub('Attic', '127.0.0.2', in1970);
  const good = await hub('Kitchen', '127.0.0.3', systemClock);

  const root = new X509Certificate(readFileSync(join(old.config.data_dir, 'identity', 'root.cert.pem')));
  t.ok(Date.parse(root.validFrom) <= in1970.now(), 'the 1970 hub created a root valid at its own time');
  t.ok(Date.parse(root.validTo) > Date.now(), '…and still valid today');

  const rowOf = (sock: string, id: string) => async () =>
    (await call<PeerRow[]>(sock, 'GET', '/v1/peers')).find((p) => p.id === id && p.verified);
  await until('Kitchen verifies Attic', rowOf(good.sock, old.identity.peerId));
  await until('Attic verifies Kitchen', rowOf(old.sock, good.identity.peerId));

  await call(good.sock, 'POST', '/v1/contacts/nearby', { peer: 'Attic' });
  await call(old.sock, 'POST', '/v1/contacts/nearby', { peer: 'Kitchen' });
  await call(old.sock, 'PUT', '/v1/presence', { status: 'Away', text: 'clock is wrong' });
  const seen = await until('Kitchen sees Attic Away', async () => {
    const c = await call<ContactView>(good.sock, 'GET', '/v1/contacts/Attic');
    return c.online && c.presence?.status === 'Away' ? c : undefined;
  });
  t.equal(seen.presence?.text, 'clock is wrong', 'descriptive text came over the peer API');
  // ApplicationChanged / ObjectChanged reach the contact too (seed: contact events).
  const app = { id: '6f1c2a9e-3b7d-4c5e-8f90-1a2b3c4d5e6f', command: '/bin/true', description: 'chess' };
  t.equal((await call<{ id: string }>(old.sock, 'POST', '/v1/apps', app)).id, app.id);
  const obj = '0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a';
  await call(old.sock, 'PUT', `/v1/objects/${obj}`, { data: Buffer.from('hello').toString('base64') });
  await until('Kitchen told of the application and the object', async () => {
    const evs = good.bus.since(0);
    const a = evs.find((e) => e.type === 'contact:application');
    const o = evs.find((e) => e.type === 'contact:object');
    return a && o ? [a, o] : undefined;
  }).then(([a, o]) => {
    t.match(a?.data, { peerId: old.identity.peerId, change: 'added', applicationId: app.id });
    t.match(o?.data, { peerId: old.identity.peerId, change: 'added', objectId: obj });
  });
  const listed = await call<Array<{ id: string; command?: string }>>(old.sock, 'GET', '/v1/apps');
  t.equal(listed[0]?.command, '/bin/true', 'the owner sees the command; peers only get views');
  const bad = await call(old.sock, 'POST', '/v1/apps', { id: 'not-a-guid', command: 'x' }).catch((e) => e);
  t.match(bad, { code: 'PH_ERR_BAD_REQUEST' });

  await call(good.sock, 'PUT', '/v1/presence', { status: 'Busy' });
  await until('Attic sees Kitchen Busy', async () => {
    const c = await call<ContactView>(old.sock, 'GET', '/v1/contacts/Kitchen');
    return c.online && c.presence?.status === 'Busy' ? c : undefined;
  });
});
