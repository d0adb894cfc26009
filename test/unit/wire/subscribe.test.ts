import t from 'tap';
import { isPeerhubError } from '../../../firmware/core/errors.js';
import { makePeer, startClient, startServer, until } from './helpers.js';

const [a, b] = await Promise.all([makePeer(), makePeer()]);

t.test('events are pushed to a subscriber, filtered to what peers may see', async (t) => {
  const server = await startServer(t, a, { heartbeatMs: 50 });
  const bus = server.deps.bus;
  bus.emit('presence:changed', { status: 'Away', text: 'before', seq: 1 });
  const { client } = startClient(t, b);
  const got: Array<{ id: number; type: string; data: unknown }> = [];
  const sub = await client.subscribe(server.target, '/v1/events?since=0', (ev) => got.push(ev as never));
  t.ok(await until(() => got.length === 1, 2000), 'history replayed with since=0');
  bus.emit('peer:found', { instance: 'secret' });
  bus.emit('presence:changed', { status: 'Busy', text: 'in a call', seq: 2 });
  bus.emit('object:changed', { id: 'o1' });
  t.ok(await until(() => got.length === 3, 2000), 'pushed');
  await new Promise((r) => setTimeout(r, 200)); // heartbeats in between are skipped
  t.same(
    got.map((e) => e.type),
    ['presence:changed', 'presence:changed', 'object:changed'],
  );
  t.match(got[1], { data: { status: 'Busy', text: 'in a call', seq: 2 } });
  t.equal(client.sessions, 1, 'the event stream shares the one session');
  t.same(await client.request(server.target, 'GET', '/v1/presence'), {
    status: 'Online',
    text: 'cooking',
    seq: 3,
  });
  sub.close();
  t.same(await sub.ended, { reason: 'closed' });
});

t.test('without since: only new events', async (t) => {
  const server = await startServer(t, a);
  server.deps.bus.emit('presence:changed', { status: 'Away', text: '', seq: 1 });
  const { client } = startClient(t, b);
  const got: unknown[] = [];
  await client.subscribe(server.target, '/v1/events', (ev) => got.push(ev));
  server.deps.bus.emit('application:changed', { id: 'app' });
  t.ok(await until(() => got.length === 1, 2000));
  t.match(got, [{ type: 'application:changed' }]);
});

t.test('a blocked subscriber gets 403 PH_ERR_FORBIDDEN', async (t) => {
  const server = await startServer(t, a);
  server.deps.blocked.add(b.peerId);
  const { client } = startClient(t, b);
  const err = await client.subscribe(server.target, '/v1/events', () => undefined).catch((e: unknown) => e);
  t.ok(isPeerhubError(err, 'PH_ERR_FORBIDDEN'), String(err));
  t.equal((err as { statusCode: number }).statusCode, 403);
});

t.test('the subscription ends when the server goes away', async (t) => {
  const server = await startServer(t, a);
  const { client, seen } = startClient(t, b);
  const sub = await client.subscribe(server.target, '/v1/events', () => undefined);
  await server.stop();
  const { reason } = await sub.ended;
  t.type(reason, 'string');
  t.ok(await until(() => seen.some((e) => e.type === 'peer:unreachable'), 5000), 'subscriber told');
});

t.test('dropPeer ends a blocked peer’s open subscription', async (t) => {
  const server = await startServer(t, a);
  const { client } = startClient(t, b);
  const sub = await client.subscribe(server.target, '/v1/events', () => undefined);
  server.deps.blocked.add(b.peerId);
  server.dropPeer(b.peerId);
  t.type((await sub.ended).reason, 'string');
  const again = await client.subscribe(server.target, '/v1/events', () => undefined).catch((e) => e);
  t.match(again, { code: 'PH_ERR_FORBIDDEN' });
});
