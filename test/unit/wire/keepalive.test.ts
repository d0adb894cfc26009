import t from 'tap';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { makePeer, relay, startClient, startServer, until } from './helpers.js';

const [a, b] = await Promise.all([makePeer(), makePeer()]);

t.test(
  'server sockets destroyed without goodbye → peer:unreachable at once; reconnect on next use',
  async (t) => {
    const server = await startServer(t, a);
    const sockets: Socket[] = [];
    server.server.on('secureConnection', (s) => sockets.push(s));
    const { client, seen } = startClient(t, b);
    await client.request(server.target, 'GET', '/v1/presence');
    const killedAt = Date.now();
    for (const s of sockets) s.destroy();
    t.ok(await until(() => seen.some((e) => e.type === 'peer:unreachable'), 5000), 'reported');
    const ev = seen.find((e) => e.type === 'peer:unreachable');
    t.match(ev?.data, { peerId: a.peerId, host: '127.0.0.1', port: server.port });
    t.ok((ev?.at ?? Infinity) - killedAt < 3000, `after ${(ev?.at ?? 0) - killedAt} ms`);
    t.equal(client.sessions, 0);
    t.same(await client.request(server.target, 'GET', '/v1/presence'), {
      status: 'Online',
      text: 'cooking',
      seq: 3,
    });
    t.equal(client.sessions, 1, 'a new session');
  },
);

t.test('a silent host (no PING answers) is reported within deadAfterMs (defaults: < 5 s)', async (t) => {
  const server = await startServer(t, a);
  const r = await relay(t, server.port);
  const { client, seen } = startClient(t, b);
  const target = { ...server.target, port: r.port };
  await client.request(target, 'GET', '/v1/card');
  await new Promise((res) => setTimeout(res, 1500));
  t.same(seen, [], 'pings answered: still alive after 1.5 s');
  r.blackhole();
  const silentAt = Date.now();
  t.ok(await until(() => seen.some((e) => e.type === 'peer:unreachable'), 6000), 'reported');
  const ev = seen.find((e) => e.type === 'peer:unreachable');
  const took = (ev?.at ?? Infinity) - silentAt;
  t.ok(took < 5000, `reported after ${took} ms`);
  t.match(ev?.data, { peerId: a.peerId, reason: /PING/ });
});

t.test(
  'a process that was not running (starved CPU) does not count that time as the peer’s silence',
  async (t) => {
    const server = await startServer(t, a);
    const { client, seen } = startClient(t, b, { keepAliveMs: 200, deadAfterMs: 1000 });
    await client.request(server.target, 'GET', '/v1/card');
    await new Promise((res) => setTimeout(res, 500));
    t.same(seen, [], 'pings answered');
    // The whole process stalls 2.5 s (what 50 agents on 2 cores do to each of them): no timer, no I/O.
    const end = Date.now() + 2500;
    while (Date.now() < end) {
      /* busy: the event loop does not run */
    }
    await new Promise((res) => setTimeout(res, 1500));
    t.same(seen, [], 'the peer answered once we ran again: not reported unreachable');
    t.same(await client.request(server.target, 'GET', '/v1/presence'), {
      status: 'Online',
      text: 'cooking',
      seq: 3,
    });
    t.equal(client.sessions, 1, 'the same session');
  },
);

t.test('close() ends sessions without reporting anyone gone', async (t) => {
  const server = await startServer(t, a);
  const { client, seen } = startClient(t, b);
  await client.request(server.target, 'GET', '/v1/card');
  await client.close();
  t.equal(client.sessions, 0);
  t.ok(await until(() => server.counters().liveSessions === 0, 2000));
  t.same(seen, []);
});

t.test('connect errors: refused port and time-out', async (t) => {
  const { client } = startClient(t, b, { connectTimeoutMs: 300 });
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  const refused = await client
    .request({ peerId: a.peerId, host: '127.0.0.1', port }, 'GET', '/v1/card')
    .catch((e) => e);
  t.match(refused, { code: 'PH_ERR_PEER_UNREACHABLE' });
  // A TCP server that never speaks TLS.
  const mute = createServer(() => undefined);
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    mute.close();
  });
  const mutePort = (mute.address() as AddressInfo).port;
  const timedOut = await client
    .request({ peerId: a.peerId, host: '127.0.0.1', port: mutePort }, 'GET', '/v1/card')
    .catch((e) => e);
  t.match(timedOut, { code: 'PH_ERR_PEER_TIMEOUT' });
});

t.test('an unused session is closed quietly after idleCloseMs; the next request reconnects', async (t) => {
  const server = await startServer(t, a);
  const { client, seen } = startClient(t, b, { idleCloseMs: 200 });
  await client.request(server.target, 'GET', '/v1/card');
  t.ok(await until(() => client.sessions === 0, 3000), 'closed');
  t.ok(await until(() => server.counters().liveSessions === 0, 2000));
  t.same(seen, [], 'not reported as unreachable');
  await client.request(server.target, 'GET', '/v1/card');
  t.equal(server.counters().sessions, 2);
});

t.test('sessions per peer are bounded', async (t) => {
  const server = await startServer(t, a, { maxSessionsPerPeer: 1 });
  const { client: one } = startClient(t, b);
  const { client: two } = startClient(t, b);
  await one.request(server.target, 'GET', '/v1/card');
  const err = await two.request(server.target, 'GET', '/v1/card').catch((e) => e);
  t.match(err, { code: /PH_ERR_PEER_/ });
  t.equal(server.counters().refusedSessions, 1);
});
