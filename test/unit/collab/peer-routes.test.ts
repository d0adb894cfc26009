/**
 * Session endpoints of the peer API over real mutual TLS: registration, the membership header (each
 * wrong certificate refused with its reason), the member stream (ordered delivery, host lost within
 * seconds, back again with what was missed), member-to-member introductions.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { MemberLinks } from '../../../firmware/collab/member-links.js';
import {
  collabPeerRoutes,
  decodeMembership,
  encodeMembership,
  MEMBERSHIP_HEADER,
} from '../../../firmware/collab/peer-routes.js';
import { createPeerTransport } from '../../../firmware/collab/peer-transport.js';
import { MemberStreams } from '../../../firmware/collab/session-streams.js';
import { createSessionHost } from '../../../firmware/collab/sessions-host.js';
import { SessionMembership } from '../../../firmware/collab/sessions-member.js';
import type { HostRequests } from '../../../firmware/collab/host-requests-types.js';
import type { Invitations } from '../../../firmware/collab/types.js';
import { systemClock } from '../../../firmware/core/clock.js';
import { isPeerhubError } from '../../../firmware/core/errors.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import type { PeerTarget } from '../../../firmware/wire/types.js';
import { makePeer, startClient, startServer, type TestPeer } from '../wire/helpers.js';

const pub = (p: TestPeer): string =>
  new X509Certificate(p.rootCertPem).publicKey.export({ type: 'spki', format: 'pem' }).toString();

async function until<T>(what: string, fn: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const [H, A, B, X] = await Promise.all([makePeer(), makePeer(), makePeer(), makePeer()]);

t.test('membership on the wire', async (t) => {
  const outer = t; // servers restarted in a subtest must outlive it
  const dir = t.testdir();
  const events: Array<{ type: string; data: unknown }> = [];
  const bus = { emit: (type: string, data: unknown) => void events.push({ type, data }) };
  const streams = new MemberStreams();
  const invited = new Set([A.peerId, B.peerId]);
  const host = createSessionHost(
    {
      logger: silentLogger(),
      clock: systemClock,
      bus,
      transport: streams,
      identity: { peerId: H.peerId, rootCertPem: H.rootCertPem, rootKeyPem: H.rootKeyPem },
      // As the agent's: invited, and not removed since (a renewal crossing a removal must not readmit).
      mayRegister: (sid, p) => invited.has(p) && host.removedAt(sid, p) === undefined,
    },
    // Short-lived membership: members renew it (register again) 6 h before it expires, here at once.
    { file: `${dir}/sessions.json`, memberCertValidityMs: 6 * 60 * 60_000 + 1000 },
  );
  await host.start();
  t.teardown(() => host.stop());
  const s1 = (await host.create()).id;
  const s2 = (await host.create()).id;

  // Members need a membership object for the member-to-member route; the host's own is empty.
  const hostMembership = new SessionMembership({
    logger: silentLogger(),
    clock: systemClock,
    bus,
    client: {} as never,
    peerId: H.peerId,
    publicKeyPem: pub(H),
  });
  const routes = (membership: SessionMembership) => (app: Parameters<typeof collabPeerRoutes>[0]) =>
    collabPeerRoutes(app, {
      logger: silentLogger(),
      clock: systemClock,
      invitations: {} as Invitations,
      hostRequests: {} as HostRequests,
      host,
      streams,
      membership,
      clockSynchronised: () => true,
      heartbeatMs: 60_000,
    });
  let server = await startServer(t, H, { routes: routes(hostMembership) });
  let hostTarget: PeerTarget = server.target;

  function member(p: TestPeer) {
    const { client } = startClient(t, p, { keepAliveMs: 200, deadAfterMs: 1000 });
    const evs: Array<{ type: string; data: unknown }> = [];
    const mbus = { emit: (type: string, data: unknown) => void evs.push({ type, data }) };
    // eslint-disable-next-line prefer-const
    let membership: SessionMembership;
    const transport = createPeerTransport({
      client,
      resolve: () => hostTarget,
      chainFor: (id) => membership.get(id).chainPem,
    });
    membership = new SessionMembership({
      logger: silentLogger(),
      clock: systemClock,
      bus: mbus,
      client: transport,
      peerId: p.peerId,
      publicKeyPem: pub(p),
    });
    const links = new MemberLinks(
      { logger: silentLogger(), clock: systemClock, membership, transport },
      { minMs: 100, maxMs: 400 },
    );
    t.teardown(() => links.stop());
    return { client, membership, links, transport, evs };
  }
  const a = member(A);
  const b = member(B);
  const x = member(X);

  await t.test('registration issues a membership certificate for the caller’s own key', async (t) => {
    const joined = await a.membership.join(H.peerId, s1, 'Ann');
    t.equal(joined.chainPem.length, 2);
    t.equal(joined.chainPem[1], H.rootCertPem, 'chain ends at the host root');
    await b.membership.join(H.peerId, s1, 'Bob');
    t.same(
      host.roster(s1).map((m) => m.peerId),
      [A.peerId, B.peerId],
    );
    const notInvited = await x.membership.join(H.peerId, s1).catch((e: unknown) => e);
    t.ok(isPeerhubError(notInvited, 'PH_ERR_SESSION_NOT_INVITED'), 'an uninvited hub is refused');
    // A registers with A's TLS identity but someone else's key: refused.
    const wrongKey = await a.client
      .request(hostTarget, 'POST', `/v1/sessions/${s2}/register`, { publicKeyPem: pub(B) })
      .catch((e: unknown) => e);
    t.ok(isPeerhubError(wrongKey, 'PH_ERR_SESSION_KEY_MISMATCH'), 'a key that is not the caller’s');
  });

  await t.test('every session call checks the membership header', async (t) => {
    const post = (
      who: typeof a,
      chain: string[] | null,
      session = s1,
      ref: string | undefined = 'hi-ref-01',
    ) =>
      who.client
        .request(
          hostTarget,
          'POST',
          `/v1/sessions/${session}/messages`,
          { text: 'hi', ...(ref === undefined ? {} : { ref }) },
          chain ? { [MEMBERSHIP_HEADER]: encodeMembership(chain) } : {},
        )
        .catch((e: unknown) => e);
    const aChain = a.membership.get(s1).chainPem;
    t.match(await post(a, aChain), { seq: 1, from: A.peerId, text: 'hi' }, 'own certificate: accepted');
    t.match(await post(a, aChain), { seq: 1, ref: 'hi-ref-01' }, 'the same ref again: the same message');
    const badRef = await post(a, aChain, s1, 'no spaces allowed');
    t.ok(isPeerhubError(badRef) && badRef.statusCode === 400, `a malformed ref: ${String(badRef)}`);
    t.equal(host.get(s1).seq, 1, 'neither took a seq');
    t.ok(isPeerhubError(await post(a, null), 'PH_ERR_SESSION_NOT_MEMBER'), 'no header');
    t.ok(
      isPeerhubError(await post(b, aChain), 'PH_ERR_SESSION_NOT_MEMBER'),
      'another member’s certificate presented by B',
    );
    const other = await post(a, aChain, s2);
    t.ok(
      isPeerhubError(other) && other.code.startsWith('PH_ERR_CHAIN'),
      `another session’s: ${String(other)}`,
    );
    const junk = await a.client
      .request(hostTarget, 'GET', `/v1/sessions/${s1}/messages?after=0`, undefined, {
        [MEMBERSHIP_HEADER]: 'not base64 json',
      })
      .catch((e: unknown) => e);
    t.ok(isPeerhubError(junk, 'PH_ERR_SESSION_NOT_MEMBER'), 'a malformed header');
    t.throws(() => decodeMembership(encodeMembership([])), /not a list/);
  });

  await t.test('streams deliver in order; a lost host is noticed and caught up with', async (t) => {
    a.links.follow(s1);
    b.links.follow(s1);
    await until('both streams attached', () =>
      streams.connected(s1, A.peerId) && streams.connected(s1, B.peerId) ? true : undefined,
    );
    await host.post(s1, H.peerId, 'two');
    await b.membership.send(s1, 'three');
    await host.post(s1, H.peerId, 'four');
    const texts = (m: SessionMembership) => m.get(s1).messages.map((x) => `${x.seq}:${x.text}`);
    const want = ['1:hi', '2:two', '3:three', '4:four'];
    await until('A has all', () => (texts(a.membership).length === 4 ? true : undefined));
    await until('B has all', () => (texts(b.membership).length === 4 ? true : undefined));
    t.same(texts(a.membership), want, 'A: one order');
    t.same(texts(b.membership), want, 'B: the same order');

    // The host goes away: both members know within seconds (the streams break).
    await server.stop();
    await until('A sees the host lost', () =>
      a.membership.get(s1).state === 'host-lost' ? true : undefined,
    );
    t.equal(a.evs.filter((e) => e.type === 'session:host-lost').length, 1, 'one host-lost event');
    await host.post(s1, H.peerId, 'while you were away'); // nobody attached: stays in the backlog

    // Back on another port: the links attach again, say hello, and fetch what was missed.
    server = await startServer(outer, H, { routes: routes(hostMembership) });
    hostTarget = server.target;
    await until('A back and caught up', () =>
      a.membership.get(s1).state === 'joined' && texts(a.membership).length === 5 ? true : undefined,
    );
    t.equal(texts(a.membership)[4], '5:while you were away');
  });

  await t.test('members introduce themselves to each other with their certificates', async (t) => {
    const bServer = await startServer(t, B, {
      routes: (app) =>
        collabPeerRoutes(app, {
          logger: silentLogger(),
          clock: systemClock,
          invitations: {} as Invitations,
          hostRequests: {} as HostRequests,
          host,
          streams: new MemberStreams(),
          membership: b.membership,
          clockSynchronised: () => true,
        }),
    });
    const hello = await a.client.request<{ peerId: string; chainPem: string[] }>(
      bServer.target,
      'GET',
      `/v1/sessions/${s1}/member`,
      undefined,
      { [MEMBERSHIP_HEADER]: encodeMembership(a.membership.get(s1).chainPem) },
    );
    t.equal(hello.peerId, A.peerId, 'B verified A’s membership');
    t.same(hello.chainPem, b.membership.get(s1).chainPem, 'and showed its own');
    const stranger = await x.client
      .request(bServer.target, 'GET', `/v1/sessions/${s1}/member`, undefined, {
        [MEMBERSHIP_HEADER]: encodeMembership(a.membership.get(s1).chainPem),
      })
      .catch((e: unknown) => e);
    t.ok(isPeerhubError(stranger, 'PH_ERR_SESSION_NOT_MEMBER'), 'a stranger showing A’s certificate');
  });

  await t.test('a membership certificate close to expiry is renewed', async (t) => {
    const first = a.membership.get(s1).certPem;
    const renewed = await until('A renewed its certificate', () =>
      a.membership.get(s1).certPem !== first ? a.membership.get(s1).certPem : undefined,
    );
    t.not(renewed, first, 'a fresh certificate');
    t.equal(host.roster(s1).find((m) => m.peerId === A.peerId)?.certPem, renewed, 'the host’s roster has it');
    t.equal(a.membership.get(s1).state, 'joined', 'still joined, messages kept');
    t.equal(a.membership.get(s1).messages.length, 5);
  });

  await t.test('removal and the end close the streams', async (t) => {
    await until('both streams attached again', () =>
      streams.connected(s1, A.peerId) && streams.connected(s1, B.peerId) ? true : undefined,
    );
    await host.remove(s1, B.peerId);
    t.ok(host.removedAt(s1, B.peerId), 'the removal is recorded');
    await until('B told it was removed', () => (b.membership.get(s1).state === 'left' ? true : undefined));
    t.notOk(streams.connected(s1, B.peerId), 'B’s stream ended');
    await host.end(s1);
    await until('A told the session ended', () =>
      a.membership.get(s1).state === 'ended' ? true : undefined,
    );
    t.equal(a.links.size, 0, 'A stopped following it');
  });
});
