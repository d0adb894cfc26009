import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type Agent } from '../../firmware/agent.js';
import { call } from '../../firmware/cli/client.js';
import { loadConfig } from '../../firmware/config/load.js';
import { systemClock } from '../../firmware/core/clock.js';
import { silentLogger } from '../../firmware/core/logger.js';
import type {
  AcceptView,
  HostRequestResult,
  HostRequestView,
  InvitationView,
  SessionDetail,
  SessionView,
} from '../../firmware/control/collab-types.js';
import type { ContactView } from '../../firmware/control/contacts-types.js';
import type { PeerRow } from '../../firmware/control/types.js';
import { createTestLan } from '../../firmware/presence/index.js';
import { freePort, until } from './wait.js';

// Whole agents (mDNS on the in-memory LAN, the peer API over real mutual TLS on 127.0.0.x) through
// the control API: host request, invitations, registration, ordered messages, host gone.
const lan = createTestLan({ clock: systemClock });

type Hub = Agent & { sock: string; stopped: boolean; restart(): Promise<Hub> };
async function hub(nickname: string, ip: string, at?: { dir: string; port: string }): Promise<Hub> {
  const dir = at?.dir ?? mkdtempSync(join(tmpdir(), 'ph-collab-'));
  const port = at?.port ?? String(await freePort());
  const config = loadConfig({ env: { HOME: dir }, flags: { data_dir: dir, nickname, port } });
  const agent = await startAgent(config, silentLogger(), { transport: lan.transport(ip) });
  const h: Hub = Object.assign(agent, {
    sock: config.control_socket,
    stopped: false,
    async restart() {
      h.stopped = true;
      await agent.stop();
      return hub(nickname, ip, { dir, port });
    },
  });
  t.teardown(async () => {
    if (!h.stopped) await agent.stop();
  });
  return h;
}

t.test('host request → invitations → registration → ordered messages → host gone', async (t) => {
  const [h, b, c] = await Promise.all([
    hub('Host', '127.0.0.21'),
    hub('Bea', '127.0.0.22'),
    hub('Cy', '127.0.0.23'),
  ]);
  const [H, B, C] = [h.identity.peerId, b.identity.peerId, c.identity.peerId];
  const verified = (x: Hub, id: string) => async () =>
    (await call<PeerRow[]>(x.sock, 'GET', '/v1/peers')).find((p) => p.id === id && p.verified);
  await until('B verifies H', verified(b, H));
  await until('H verifies B and C', async () =>
    (await verified(h, B)()) && (await verified(h, C)()) ? true : undefined,
  );
  await until('C verifies H', verified(c, H));

  // 1–2: B asks H to host; H's owner is asked (B is not H's contact) and accepts.
  const asked = call<HostRequestResult>(b.sock, 'POST', '/v1/host-requests', {
    peer: 'Host',
    message: 'chess?',
  });
  const pending = await until(
    'H sees the request',
    async () =>
      (await call<HostRequestView[]>(h.sock, 'GET', '/v1/host-requests?direction=in&state=pending'))[0],
  );
  t.match(pending, { peer: B, name: 'Bea', message: 'chess?' });
  await call(h.sock, 'POST', `/v1/host-requests/${pending.id}/answer`, { answer: 'accepted' });
  const answer = await asked;
  t.equal(answer.state, 'accepted', 'B learns the answer');
  t.ok(answer.session, 'with the session H opened');
  const session = answer.session!;

  // 3: H invites B (allowed: B asked H to host) and C (C opens itself to the subnet).
  await call(c.sock, 'PUT', '/v1/policy', { invite: { mode: 'nearby', minutes: 5 } });
  const sent = await call<{ session: string; invitations: InvitationView[] }>(
    h.sock,
    'POST',
    '/v1/invitations',
    {
      peers: ['Bea', C],
      session,
      message: 'join us',
    },
  );
  t.equal(sent.session, session);
  t.same(
    sent.invitations.map((i) => [i.peer, i.state, i.delivery]),
    [
      [B, 'pending', 'delivered'],
      [C, 'pending', 'delivered'],
    ],
  );
  const inB = (await call<InvitationView[]>(b.sock, 'GET', '/v1/invitations?direction=in'))[0]!;
  t.match(inB, { peer: H, name: 'Host', session, state: 'pending', message: 'join us' });
  const inC = (await call<InvitationView[]>(c.sock, 'GET', '/v1/invitations?direction=in'))[0]!;

  // 5–6: B accepts and registers; C declines.
  const acc = await call<AcceptView>(b.sock, 'POST', `/v1/invitations/${inB.id}/accept`, {});
  t.match(acc, { state: 'accepted', joined: true });
  const dec = await call<InvitationView>(c.sock, 'POST', `/v1/invitations/${inC.id}/decline`, {});
  t.equal(dec.state, 'declined');
  const mine = (await call<SessionView[]>(b.sock, 'GET', '/v1/sessions')).find((s) => s.id === session);
  t.match(mine, { role: 'member', host: H, state: 'joined' });
  t.match(mine?.membership?.certPem, /BEGIN CERTIFICATE/, 'B holds a membership certificate');
  const hosted = await call<SessionDetail>(h.sock, 'GET', `/v1/sessions/${session}`);
  t.same(
    hosted.members.map((m) => m.id),
    [B],
    'the roster lists B',
  );
  t.same(hosted.invitations, { accepted: [B], declined: [C], noResponse: [], failed: [] });

  // 7: B's registration was its first activity: H added B to its contacts.
  await until('H adds B to its contacts', async () =>
    (await call<ContactView[]>(h.sock, 'GET', '/v1/contacts')).find((x) => x.id === B),
  );

  // 8: messages in one order on both sides.
  await until(
    'the stream of B attached',
    async () =>
      (await call<SessionDetail>(h.sock, 'GET', `/v1/sessions/${session}`)).members[0]?.connected ||
      undefined,
  );
  await call(h.sock, 'POST', `/v1/sessions/${session}/messages`, { text: 'hello from H' });
  await call(b.sock, 'POST', `/v1/sessions/${session}/messages`, { text: 'hi from B' });
  await call(h.sock, 'POST', `/v1/sessions/${session}/messages`, { text: 'welcome' });
  const texts = (d: SessionDetail) => d.messages.map((m) => `${m.seq}:${m.text}`);
  const want = ['1:hello from H', '2:hi from B', '3:welcome'];
  t.same(texts(await call<SessionDetail>(h.sock, 'GET', `/v1/sessions/${session}`)), want);
  t.same(
    await until('B has all three', async () => {
      const d = await call<SessionDetail>(b.sock, 'GET', `/v1/sessions/${session}`);
      return d.messages.length === 3 ? texts(d) : undefined;
    }),
    want,
  );

  // An answer after the invitation closed is refused with its reason.
  const again = await call(c.sock, 'POST', `/v1/invitations/${inC.id}/accept`, {}).catch((e: unknown) => e);
  t.match(again, { code: 'PH_ERR_INVITATION_CLOSED' });

  // The member restarts: it is still in the session, attached again, and fetches what it missed.
  const b2 = await b.restart();
  await call(h.sock, 'POST', `/v1/sessions/${session}/messages`, { text: 'after B restarted' });
  const stateOf = async (x: Hub) => call<SessionDetail>(x.sock, 'GET', `/v1/sessions/${session}`);
  await until('B back in the session with the new message', async () => {
    const d = await stateOf(b2);
    return d.state === 'joined' && d.messages.some((m) => m.text === 'after B restarted') ? d : undefined;
  });
  await until('H sees B attached again', async () =>
    (await stateOf(h)).members[0]?.connected ? true : undefined,
  );

  // The host restarts: B learns it was lost, then that it is back, and messages flow again.
  const h2 = await h.restart();
  const lost = b2.bus.since(0).find((e) => e.type === 'session:host-lost');
  t.ok(lost, 'B saw the host lost');
  await until('H back with the session', async () =>
    (await stateOf(h2)).state === 'open' ? true : undefined,
  );
  await until('B attached to H again', async () =>
    (await stateOf(h2)).members[0]?.connected ? true : undefined,
  );
  const m = await call<{ seq: number }>(b2.sock, 'POST', `/v1/sessions/${session}/messages`, {
    text: 'still here',
  });
  t.ok(m.seq > 4, `the host goes on after its reserved seq (${m.seq})`);
  const hb = await call<InvitationView[]>(h2.sock, 'GET', '/v1/invitations?direction=out');
  t.same(
    hb.map((i) => [i.peer, i.state]),
    [
      [B, 'accepted'],
      [C, 'declined'],
    ],
    'the host’s invitations survived its restart',
  );

  // Removed, B is out (its stream closed); only a new invitation, accepted, lets it register again.
  await call(h2.sock, 'DELETE', `/v1/sessions/${session}/members/${encodeURIComponent(B)}`);
  await until('B told it was removed', async () => ((await stateOf(b2)).state === 'left' ? true : undefined));
  await call(h2.sock, 'POST', '/v1/invitations', { peers: [B], session, message: 'come back' });
  const back = await until(
    'B invited again',
    async () =>
      (await call<InvitationView[]>(b2.sock, 'GET', '/v1/invitations?direction=in&state=pending'))[0],
  );
  const rejoin = await call<AcceptView>(b2.sock, 'POST', `/v1/invitations/${back.id}/accept`, {});
  t.match(rejoin, { state: 'accepted', joined: true }, 're-registered after a new invitation');

  // A second session, so that one can end while the other stays open for the host-loss check.
  const second = (await call<SessionView>(h2.sock, 'POST', '/v1/sessions', {})).id;
  await call(h2.sock, 'POST', '/v1/invitations', { peers: [B], session: second });
  const inv2 = await until('B invited to the second session', async () =>
    (await call<InvitationView[]>(b2.sock, 'GET', '/v1/invitations?direction=in&state=pending')).find(
      (i) => i.session === second,
    ),
  );
  await call(b2.sock, 'POST', `/v1/invitations/${inv2.id}/accept`, {});
  await until('B attached to both sessions', async () =>
    (await stateOf(h2)).members[0]?.connected &&
    (await call<SessionDetail>(h2.sock, 'GET', `/v1/sessions/${second}`)).members[0]?.connected
      ? true
      : undefined,
  );

  // The host ends the first session: B is told it ended (its stream carries the notice before it
  // closes), not that the host was lost.
  const mark = b2.bus.lastId;
  await call(h2.sock, 'POST', `/v1/sessions/${session}/end`);
  await until('B sees the session ended', async () =>
    (await stateOf(b2)).state === 'ended' ? true : undefined,
  );
  t.same(
    b2.bus.since(mark).filter((e) => e.type === 'session:host-lost'),
    [],
    'no host-lost on the way to ended',
  );

  // The host goes away for good: B learns it within 5 s.
  h2.stopped = true;
  await h2.stop();
  await until(
    'B sees the host lost',
    async () =>
      (await call<SessionDetail>(b2.sock, 'GET', `/v1/sessions/${second}`)).state === 'host-lost'
        ? true
        : undefined,
    10_000,
  );
  t.equal((await stateOf(b2)).state, 'ended', 'the ended session stays ended');
});
