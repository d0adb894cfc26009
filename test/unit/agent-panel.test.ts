import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type Agent } from '../../firmware/agent.js';
import { call } from '../../firmware/cli/client.js';
import { loadConfig } from '../../firmware/config/load.js';
import { systemClock } from '../../firmware/core/clock.js';
import { silentLogger } from '../../firmware/core/logger.js';
import type { InvitationView } from '../../firmware/control/collab-types.js';
import type { PeerRow } from '../../firmware/control/types.js';
import { PATTERNS, type Pattern } from '../../firmware/panel/machine.js';
import type { PanelView } from '../../firmware/panel/panel.js';
import { createTestLan } from '../../firmware/presence/index.js';
import { freePort, until } from './wait.js';

// Whole agents with the virtual panel: an invitation blinks the invitee's LED, Accept pressed through
// the control API (the same johnny-five Button path as a finger) answers it, the host's LED goes solid.
const lan = createTestLan({ clock: systemClock });

type Hub = Agent & { sock: string };
async function hub(nickname: string, ip: string, firstBootResult?: string): Promise<Hub> {
  const dir = mkdtempSync(join(tmpdir(), 'ph-panel-'));
  const config = loadConfig({
    env: { HOME: dir },
    flags: { data_dir: dir, nickname, port: String(await freePort()) },
  });
  const agent = await startAgent(config, silentLogger(), {
    transport: lan.transport(ip),
    firstBootResult: firstBootResult ?? join(dir, 'no-first-boot.json'),
  });
  t.teardown(() => agent.stop());
  return Object.assign(agent, { sock: config.control_socket });
}

const led = (v: PanelView, name: string): Pattern => {
  const l = v.leds.find((x) => x.name === name);
  if (!l) throw new Error(`no LED ${name}`);
  const { name: _n, ...p } = l;
  return p;
};
const panel = (h: Hub) => call<PanelView>(h.sock, 'GET', '/v1/panel');

t.test('invite → invitee blinks → Accept pressed → host solid; Decline; long press', async (t) => {
  const [h, b] = await Promise.all([hub('Host', '127.0.0.31'), hub('Bea', '127.0.0.32')]);
  const [H, B] = [h.identity.peerId, b.identity.peerId];
  for (const [x, id] of [
    [h, B],
    [b, H],
  ] as const) {
    await until('verified', async () =>
      (await call<PeerRow[]>(x.sock, 'GET', '/v1/peers')).find((p) => p.id === id && p.verified),
    );
  }
  const pb = await panel(b);
  t.equal(pb.board, 'virtual', 'no hardware here: the virtual board');
  t.same(led(pb, 'invite'), { state: 'off' });
  t.same(led(pb, 'status'), PATTERNS.statusReady, 'ready');
  t.same(led(pb, 'presence'), PATTERNS.presenceOnline);

  await call(b.sock, 'PUT', '/v1/policy', { invite: { mode: 'nearby', minutes: 10 } });
  await call(h.sock, 'POST', '/v1/invitations', { peers: [B], message: 'one' });
  await until('B blinks', async () => (led(await panel(b), 'invite').state === 'blink' ? true : undefined));
  t.same(led(await panel(b), 'invite'), PATTERNS.inviteWaiting, 'the invitee’s LED blinks');
  t.same(led(await panel(h), 'invite'), PATTERNS.hostAwaiting, 'the host’s blinks (awaiting)');

  const r = await call<{ type: string; answer?: string }>(b.sock, 'POST', '/v1/panel/press', {
    button: 'accept',
  });
  t.match(r, { type: 'answer', answer: 'accepted' });
  t.same(led(await panel(b), 'invite'), PATTERNS.outcomeAccepted, 'accepted shows solid');
  await until('H informed', async () =>
    (await call<InvitationView[]>(h.sock, 'GET', '/v1/invitations?direction=out'))[0]?.state === 'accepted'
      ? true
      : undefined,
  );
  await until('H all answered', async () =>
    JSON.stringify(led(await panel(h), 'invite')) === JSON.stringify(PATTERNS.hostAllAnswered)
      ? true
      : undefined,
  );

  await call(h.sock, 'POST', '/v1/invitations', { peers: [B], message: 'two' });
  await until(
    'B has a new one',
    async () =>
      (await call<InvitationView[]>(b.sock, 'GET', '/v1/invitations?direction=in&state=pending'))[0],
  );
  const d = await call<{ answer?: string }>(b.sock, 'POST', '/v1/panel/press', { button: 'decline' });
  t.equal(d.answer, 'declined');
  t.same(led(await panel(b), 'invite'), PATTERNS.outcomeRefused, 'declined: its own pattern');

  const idle = await call<{ type: string }>(b.sock, 'POST', '/v1/panel/press', { button: 'accept' });
  t.equal(idle.type, 'none', 'nothing waiting: Accept does nothing');
  const long = await call<{ type: string; status?: string }>(b.sock, 'POST', '/v1/panel/press', {
    button: 'accept',
    long: true,
  });
  t.match(long, { type: 'presence', status: 'Away' }, 'long press: Online → Away');
  t.same(led(await panel(b), 'presence'), PATTERNS.presenceAway);
  const bad = await call(b.sock, 'POST', '/v1/panel/press', { button: 'reset' }).catch((e: unknown) => e);
  t.match(bad, { code: 'PH_ERR_BAD_REQUEST' });

  // `peerhub doctor` from the running agent: every check answered, this healthy hub fails none.
  const checks = await call<Array<{ name: string; status: string }>>(b.sock, 'GET', '/v1/doctor');
  t.same(
    checks.map((c) => c.name),
    [
      'agent',
      'control-socket',
      'address',
      'mdns',
      'multicast-route',
      'peers',
      'clock',
      'identity',
      'tls',
      'store',
      'disk',
      'panel',
    ],
  );
  t.match(Object.fromEntries(checks.map((c) => [c.name, c.status])), {
    agent: 'pass',
    identity: 'pass',
    tls: 'pass',
    peers: 'pass',
    store: 'pass',
  });
});

t.test('a first boot that failed: status LED shows fault, doctor says what to fix', async (t) => {
  const result = join(mkdtempSync(join(tmpdir(), 'ph-fb-')), 'result.json');
  const errors = ['wifi.country: "XX" is not an ISO 3166 country code'];
  writeFileSync(result, JSON.stringify({ at: '2026-11-25T08:00:00Z', applied: [], errors, warnings: [] }));
  const h = await hub('Faulty', '127.0.0.33', result);
  t.same(led(await panel(h), 'status'), PATTERNS.statusFault, 'fault, not ready');
  const checks = await call<Array<{ name: string; status: string; detail: string; hint?: string }>>(
    h.sock,
    'GET',
    '/v1/doctor',
  );
  t.match(
    checks.find((c) => c.name === 'first-boot'),
    {
      status: 'fail',
      detail: /wifi\.country/,
      hint: /peerhub\.toml/,
    },
  );
  // A later first boot that went well clears it (the panel re-reads at its next health beat).
  writeFileSync(result, JSON.stringify({ at: '2026-11-25T09:00:00Z', applied: ['hostname'], errors: [] }));
  await call(h.sock, 'POST', '/v1/panel/press', { button: 'decline' }); // any refresh will do
  await until(
    'status LED ready',
    async () => (led(await panel(h), 'status').state === PATTERNS.statusReady.state ? true : undefined),
    20_000,
  );
  t.same(led(await panel(h), 'status'), PATTERNS.statusReady);
});
