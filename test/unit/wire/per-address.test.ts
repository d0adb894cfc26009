/**
 * Slow clients from one host cannot take every connection of the peer API (issue 7, torture "slow
 * clients"): beyond maxConnectionsPerAddress, connections from that address are closed at once, so the
 * server's maxConnections stays available to other peers, who are served meanwhile.
 */
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { SERVER_DEFAULTS } from '../../../firmware/wire/server.js';
import { makePeer, startClient, startServer, until } from './helpers.js';

const [a, b] = await Promise.all([makePeer(), makePeer()]);

t.test('a default exists, well under maxConnections', async (t) => {
  t.ok(SERVER_DEFAULTS.maxConnectionsPerAddress >= SERVER_DEFAULTS.maxSessionsPerPeer);
  t.ok(SERVER_DEFAULTS.maxConnectionsPerAddress < SERVER_DEFAULTS.maxConnections);
});

t.test('one address holding its share: further connections from it closed; others served', async (t) => {
  // maxConnections 8: without the per-address limit, 8 slow sockets would lock everyone out.
  const server = await startServer(t, a, { maxConnections: 8, maxConnectionsPerAddress: 3 });
  const slow: Array<{ sock: Socket; closed: boolean }> = [];
  for (let i = 0; i < 8; i++) {
    // From 127.0.0.2: a TCP connection that sends one byte of a ClientHello and nothing more.
    const sock = connect({ host: '127.0.0.1', port: server.port, localAddress: '127.0.0.2' });
    const s = { sock, closed: false };
    sock.on('connect', () => sock.write(Buffer.from([0x16])));
    sock.on('error', () => undefined);
    sock.on('close', () => (s.closed = true));
    slow.push(s);
  }
  t.teardown(() => slow.forEach((s) => s.sock.destroy()));
  t.ok(await until(() => slow.filter((s) => s.closed).length === 5, 10_000), '5 of 8 closed at once');
  t.equal(server.counters().refusedPerAddress, 5, 'counted');
  t.equal(slow.filter((s) => !s.closed).length, 3, 'the address keeps its 3');

  // A peer from 127.0.0.1 is served while 127.0.0.2 holds its share.
  const { client } = startClient(t, b);
  const card = (await client.request(server.target, 'GET', '/v1/card')) as { peerId: string };
  t.equal(card.peerId, a.peerId, 'another address is served');
  t.equal(server.counters().refusedConnections, 0, 'nothing hit maxConnections');

  // When the slow ones go (the server notices their close a moment later), the address may connect again.
  slow.forEach((s) => s.sock.destroy());
  const stays = async (): Promise<boolean> => {
    const again = connect({ host: '127.0.0.1', port: server.port, localAddress: '127.0.0.2' });
    again.on('error', () => undefined);
    let closed = false;
    again.on('close', () => (closed = true));
    await new Promise((r) => setTimeout(r, 300));
    again.destroy();
    return !closed;
  };
  let accepted = false;
  for (let i = 0; i < 30 && !accepted; i++) accepted = await stays();
  t.ok(accepted, 'accepted again after its connections closed');
});
