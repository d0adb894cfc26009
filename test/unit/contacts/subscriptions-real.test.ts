import t, { type Test } from 'tap';
import { systemClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { createContactPresence } from '../../../firmware/contacts/index.js';
import { PeerClient } from '../../../firmware/wire/index.js';
import type { PeerPresence } from '../../../firmware/wire/index.js';
import type { Socket } from 'node:net';
import { fakeDeps, makePeer, relay, startServer, until } from '../wire/helpers.js';
import { contact } from './subscriptions-helpers.js';

const [peerA, peerB] = await Promise.all([makePeer(), makePeer()]);

/** A following B (endpoint given by `via`), with B's snapshots counted and A's events recorded. */
async function follow(t: Test, via?: (port: number) => Promise<number>) {
  const b = { presence: { status: 'Online', text: 'at home', seq: 3 } as PeerPresence, snapshots: 0 };
  const bDeps = fakeDeps(peerB);
  bDeps.presence = () => (b.snapshots++, b.presence);
  const serverB = await startServer(t, peerB, { heartbeatMs: 200 }, bDeps);
  const bSockets: Socket[] = [];
  serverB.server.on('secureConnection', (s: Socket) => bSockets.push(s));
  await startServer(t, peerA); // A's own hub (not needed by the subscription, as in the appliance)
  const port = via ? await via(serverB.port) : serverB.port;

  const unreachable = new Set<(peerId: string, reason?: string) => void>();
  const client = new PeerClient(
    {
      clock: systemClock,
      logger: silentLogger(),
      credentials: () => peerA.creds,
      events: {
        emit: (type, data) => {
          if (type === 'peer:unreachable') {
            const d = data as { peerId: string; reason: string };
            for (const fn of unreachable) fn(d.peerId, d.reason);
          }
        },
      },
    },
    { keepAliveMs: 200, deadAfterMs: 1000 },
  );
  t.teardown(() => client.close());

  const events: Array<{ type: string; data: Record<string, unknown>; at: number }> = [];
  const bContact = contact(peerB.peerId, [`127.0.0.1:${port}`]);
  const service = createContactPresence(
    {
      logger: silentLogger(),
      clock: systemClock,
      bus: {
        emit: (type, data) => events.push({ type, data: data as Record<string, unknown>, at: Date.now() }),
      },
      contacts: {
        list: () => [bContact],
        get: () => bContact,
      },
      onContactsChanged: () => () => undefined,
      nearby: () => [],
      client,
      onUnreachable: (fn) => {
        unreachable.add(fn);
        return () => unreachable.delete(fn);
      },
    },
    { retry: { minMs: 200, maxMs: 1000 } },
  );
  t.teardown(() => service.stop());
  await service.start();
  t.ok(await until(() => service.view(peerB.peerId).online, 5000), 'online');
  return { b, bDeps, serverB, bSockets, events, service };
}

t.test(
  'A follows B over real mutual TLS: pushed, not polled; B crashing is reported within 5 s',
  async (t) => {
    const { b, bDeps, serverB, bSockets, events, service } = await follow(t);
    t.match(service.view(peerB.peerId), {
      state: 'online',
      presence: { status: 'Online', text: 'at home', seq: 3 },
    });
    t.equal(b.snapshots, 1);

    b.presence = { status: 'Busy', text: 'in a call', seq: 4 };
    bDeps.bus.emit('presence:changed', { ...b.presence, scope: 'NearMe' });
    t.ok(
      await until(() => events.some((e) => e.type === 'contact:presence' && e.data.seq === 4), 3000),
      'pushed',
    );
    t.match(events.at(-1), {
      type: 'contact:presence',
      data: { peerId: peerB.peerId, status: 'Busy', text: 'in a call' },
    });
    await new Promise((r) => setTimeout(r, 500)); // heartbeats pass, nothing is polled
    t.equal(b.snapshots, 1, 'no extra GET /v1/presence: the change was pushed');

    // B's hub dies: its sockets vanish and its server is gone.
    const crashedAt = Date.now();
    for (const s of bSockets) s.destroy();
    await serverB.stop();
    t.ok(await until(() => events.some((e) => e.type === 'contact:offline'), 5000), 'reported gone');
    const off = events.find((e) => e.type === 'contact:offline');
    t.ok(off!.at - crashedAt < 5000, `contact:offline after ${off!.at - crashedAt} ms`);
    t.match(off!.data, { peerId: peerB.peerId, reason: String });
    t.match(service.view(peerB.peerId), { online: false, state: /offline|connecting/ });
  },
);

t.test('B goes silent (power loss: no RST): the keep-alive reports it within 5 s', async (t) => {
  let r: { port: number; blackhole(): void } | undefined;
  const { events, service } = await follow(t, async (port) => (r = await relay(t, port)).port);
  await new Promise((res) => setTimeout(res, 500));
  t.same(
    events.map((e) => e.type),
    ['contact:online', 'contact:presence'],
    'pings answered: still online',
  );
  const silentAt = Date.now();
  r!.blackhole();
  t.ok(await until(() => events.some((e) => e.type === 'contact:offline'), 6000), 'reported gone');
  const off = events.find((e) => e.type === 'contact:offline');
  t.ok(off!.at - silentAt < 5000, `contact:offline after ${off!.at - silentAt} ms`);
  t.match(off!.data, { reason: /unreachable: no PING answer/ });
  t.equal(service.view(peerB.peerId).online, false);
});
