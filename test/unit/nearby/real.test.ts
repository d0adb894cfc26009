import t from 'tap';
import { systemClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import {
  createEndpointProver,
  createNearbyVerifier,
  type NearbyEvents,
} from '../../../firmware/nearby/index.js';
import type { NearbyPeer } from '../../../firmware/presence/types.js';
import { fakeDeps, makePeer, startServer, until } from '../wire/helpers.js';
import { nearby } from './helpers.js';

const [me, alice, mallory] = await Promise.all([makePeer(), makePeer(), makePeer()]);

t.test(
  'real handshakes: the owner is verified, a hub announcing her id with its own key is a spoof',
  async (t) => {
    let cards = 0;
    const aliceDeps = fakeDeps(alice);
    const realServer = await startServer(
      t,
      alice,
      {},
      { ...aliceDeps, card: () => (cards++, aliceDeps.card()) },
    );
    const fakeServer = await startServer(t, mallory);
    const real = nearby('Alice', alice.peerId, [`127.0.0.1:${realServer.port}`]);
    const fake = nearby('Alice (2)', alice.peerId, [`127.0.0.1:${fakeServer.port}`]);
    const table = new Map<string, NearbyPeer>([[real.instance, real]]);
    let listener: ((type: 'peer:found', p: NearbyPeer) => void) | null = null;
    const events: Array<{ type: keyof NearbyEvents; data: unknown }> = [];
    const wire: unknown[] = [];
    const v = createNearbyVerifier(
      {
        logger: silentLogger(),
        clock: systemClock,
        bus: { emit: (type, data) => events.push({ type, data }) },
        peers: () => [...table.values()],
        onPeerEvent: (fn) => {
          listener = fn;
          return () => (listener = null);
        },
        prove: createEndpointProver({
          clock: systemClock,
          logger: silentLogger(),
          credentials: () => me.creds,
          events: { emit: (type, data) => wire.push({ type, data }) },
        }),
        isContact: (id) => id === alice.peerId,
      },
      { selfPeerId: me.peerId },
    );
    t.teardown(() => v.stop());
    await v.start();
    t.ok(await until(() => events.length === 1, 5000), 'owner verified');
    // The proof is the handshake alone: the server saw our chain (a mutual TLS session) and no request,
    // and the connection does not linger. The server counts the session when it reads our Finished,
    // which may come after the client is done: wait for it to be counted and closed, not just closed.
    const proofClosed = () => {
      const c = realServer.counters();
      return c.sessions === 1 && c.liveSessions === 0;
    };
    t.ok(await until(proofClosed, 5000), 'proof connection closed');
    t.match(realServer.counters(), { connections: 1, sessions: 1, rejectedChains: 0 });
    t.equal(cards, 0, 'no card fetched');
    // The spoofer shows up after a session to the real owner was made: it must get its own handshake.
    table.set(fake.instance, fake);
    listener!('peer:found', fake);
    t.ok(await until(() => events.length === 2, 5000), 'spoof flagged');
    const rows = v.view();
    t.match(
      rows.find((r) => r.instance === 'Alice'),
      { id: alice.peerId, verified: true, spoof: false, contact: true },
    );
    t.match(
      rows.find((r) => r.instance === 'Alice (2)'),
      {
        id: alice.peerId,
        verified: false,
        spoof: true,
        contact: false,
        spoofedBy: mallory.peerId,
      },
    );
    t.match(events, [
      { type: 'peer:verified', data: { peer: { instance: 'Alice' } } },
      {
        type: 'peer:spoof',
        data: {
          claimed: alice.peerId,
          presented: mallory.peerId,
          endpoint: fake.endpoints[0],
          instance: 'Alice (2)',
        },
      },
    ]);
    t.match(wire, [{ type: 'peer:spoof', data: { expected: alice.peerId, presented: mallory.peerId } }]);
  },
);
