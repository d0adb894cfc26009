/** A host and N members wired through in-memory transports; real RSA identities and certificates. */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSessionHost } from '../../../firmware/collab/sessions-host.js';
import { SessionMembership } from '../../../firmware/collab/sessions-member.js';
import { verifyMembership } from '../../../firmware/collab/sessions-certs.js';
import type {
  SessionClient,
  SessionEvents,
  SessionHost,
  SessionMessage,
} from '../../../firmware/collab/sessions-types.js';
import { ManualClock } from '../../../firmware/core/clock.js';
import { PeerhubError } from '../../../firmware/core/errors.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import {
  createRootCertificate,
  generateRootKeyPair,
  peerIdFromPublicKey,
} from '../../../firmware/identity/index.js';

const T0 = 1_700_000_000_000;

interface Person {
  peerId: string;
  publicKeyPem: string;
  rootCertPem: string;
  rootKeyPem: string;
}

async function person(): Promise<Person> {
  const k = await generateRootKeyPair();
  return {
    peerId: peerIdFromPublicKey(k.publicKeyPem),
    publicKeyPem: k.publicKeyPem,
    rootCertPem: createRootCertificate({ ...k, now: T0 }),
    rootKeyPem: k.privateKeyPem,
  };
}

const people = await Promise.all(Array.from({ length: 22 }, person));
const [H, H2, ...M] = people as [Person, Person, ...Person[]];

type Ev = { type: keyof SessionEvents; data: unknown };

function recorder(): { bus: { emit(type: keyof SessionEvents, data: unknown): void }; events: Ev[] } {
  const events: Ev[] = [];
  return { events, bus: { emit: (type, data) => void events.push({ type, data }) } };
}

/** The in-memory net: host H, members by peer id; `offline` members neither receive nor call. */
async function net(dir: string, n: number, opts: { maxMessages?: number; validityMs?: number } = {}) {
  const clock = new ManualClock(T0);
  const offline = new Set<string>();
  const lostAnswers = new Map<string, number>(); // posts of this member whose answer never comes back
  const accepted = new Set<string>();
  const members = new Map<string, { m: SessionMembership; events: Ev[] }>();
  const host = recorder();
  const unreachable = (p: string) => new PeerhubError('PH_ERR_PEER_UNREACHABLE', `${p} offline`);
  const make = (h: Person = H, file = 'sessions.json'): SessionHost =>
    createSessionHost(
      {
        logger: silentLogger(),
        clock,
        bus: host.bus,
        identity: { peerId: h.peerId, rootCertPem: h.rootCertPem, rootKeyPem: h.rootKeyPem },
        mayRegister: (s, p) => accepted.has(`${s}/${p}`),
        transport: {
          deliver: async (p, msg) => {
            if (offline.has(p)) throw unreachable(p);
            await members.get(p)?.m.onDeliver(H.peerId, msg);
          },
          notify: async (p, notice) => {
            if (offline.has(p)) throw unreachable(p);
            members.get(p)?.m.onNotice(H.peerId, notice);
          },
        },
      },
      {
        file: join(dir, file),
        ...(opts.maxMessages ? { backlog: { maxMessages: opts.maxMessages } } : {}),
        ...(opts.validityMs ? { memberCertValidityMs: opts.validityMs } : {}),
      },
    );
  const ref = { host: make() };
  await ref.host.start();
  const clientOf = (me: string): SessionClient => {
    const up = async () => {
      await Promise.resolve();
      if (offline.has(me)) throw unreachable(me);
      return ref.host;
    };
    return {
      register: async (_h, s, key, nick) => (await up()).register(s, me, key, nick),
      post: async (_h, s, text, r) => {
        const msg = await (await up()).post(s, me, text, r);
        const lose = lostAnswers.get(me) ?? 0;
        if (lose > 0) {
          lostAnswers.set(me, lose - 1);
          throw unreachable(`${me}: answer`);
        }
        return msg;
      },
      catchUp: async (_h, s, after) => (await up()).catchUp(s, me, after),
      resync: async (_h, s) => (await up()).resync(s, me),
      leave: async (_h, s) => (await up()).leave(s, me),
    };
  };
  for (const p of M.slice(0, n)) {
    const r = recorder();
    const m = new SessionMembership({
      logger: silentLogger(),
      clock,
      bus: r.bus,
      client: clientOf(p.peerId),
      peerId: p.peerId,
      publicKeyPem: p.publicKeyPem,
    });
    members.set(p.peerId, { m, events: r.events });
  }
  const session = await ref.host.create({ appId: 'chat' });
  const join_ = async (p: Person) => {
    accepted.add(`${session.id}/${p.peerId}`);
    return members.get(p.peerId)!.m.join(H.peerId, session.id, `nick-${p.peerId.slice(0, 4)}`);
  };
  const texts = (p: Person) =>
    members
      .get(p.peerId)!
      .m.get(session.id)
      .messages.map((x) => x.text);
  return {
    clock,
    ref,
    make,
    offline,
    lostAnswers,
    accepted,
    members,
    hostEvents: host.events,
    id: session.id,
    join: join_,
    texts,
  };
}

const code = (c: string) => ({ code: c });

t.test('registration issues a membership certificate verifyChain and openssl accept', async (t) => {
  const dir = t.testdir();
  const w = await net(dir, 2);
  t.match(w.id, /^[0-9a-f]{32}$/, '128-bit hex id');
  t.match(w.hostEvents[0], {
    type: 'session:created',
    data: { sessionId: w.id, hostPeerId: H.peerId, appId: 'chat' },
  });
  const [a] = M as [Person];
  const j = await w.join(a);
  t.equal(j.chainPem.length, 2);
  t.equal(j.chainPem[1], H.rootCertPem);
  const v = verifyMembership(j.chainPem, { now: T0, hostPeerId: H.peerId, sessionId: w.id });
  t.equal(v.leafPeerId, a.peerId, 'the certificate names the member key');
  t.equal(v.sessionId, w.id);
  t.equal(w.ref.host.authenticateMember(w.id, j.chainPem), a.peerId);
  t.match(w.ref.host.roster(w.id), [
    { peerId: a.peerId, nickname: `nick-${a.peerId.slice(0, 4)}`, connected: true },
  ]);
  t.match(w.hostEvents.at(-1), {
    type: 'session:member-joined',
    data: { sessionId: w.id, peerId: a.peerId },
  });

  writeFileSync(join(dir, 'root.pem'), H.rootCertPem);
  writeFileSync(join(dir, 'member.pem'), j.certPem);
  const out = execFileSync(
    'openssl',
    ['verify', '-attime', String(T0 / 1000 + 60), '-CAfile', join(dir, 'root.pem'), join(dir, 'member.pem')],
    { encoding: 'utf8' },
  );
  t.match(out, /member\.pem: OK/);
});

t.test('certificates of another session, another host, expired, removed: refused', async (t) => {
  const w = await net(t.testdir(), 2, { validityMs: 60_000 });
  const [a, b] = M as [Person, Person];
  const ja = await w.join(a);
  const other = await w.ref.host.create();
  t.throws(() => w.ref.host.authenticateMember(other.id, ja.chainPem), code('PH_ERR_CHAIN_KEYUSAGE'));

  const h2 = w.make(H2, 'h2-sessions.json');
  await h2.start();
  t.teardown(() => h2.stop());
  t.throws(
    () => h2.authenticateMember(w.id, ja.chainPem),
    code('PH_ERR_SESSION_NOT_FOUND'),
    'H2 does not know the session',
  );
  const forged = await h2.create();
  w.accepted.add(`${forged.id}/${b.peerId}`);
  const fromH2 = await h2.register(forged.id, b.peerId, b.publicKeyPem);
  t.throws(
    () => verifyMembership(fromH2.chainPem, { now: T0, hostPeerId: H.peerId, sessionId: forged.id }),
    code('PH_ERR_CHAIN_UNTRUSTED'),
    "another host's certificate does not chain to H",
  );

  t.throws(() => w.ref.host.authenticateMember(w.id, [ja.certPem]), code('PH_ERR_CHAIN_UNTRUSTED'));
  t.throws(() => w.ref.host.authenticateMember(w.id, []), code('PH_ERR_CHAIN_EMPTY'));
  w.clock.advance(120_000);
  t.throws(() => w.ref.host.authenticateMember(w.id, ja.chainPem), code('PH_ERR_CHAIN_EXPIRED'));
  const renewed = await w.join(a);
  t.equal(w.ref.host.authenticateMember(w.id, renewed.chainPem), a.peerId, 're-registering renews');
  await w.ref.host.remove(w.id, a.peerId);
  t.throws(() => w.ref.host.authenticateMember(w.id, renewed.chainPem), code('PH_ERR_SESSION_NOT_MEMBER'));
  await w.ref.host.stop();
});

t.test('only accepted peers register, with their own key', async (t) => {
  const w = await net(t.testdir(), 2);
  const [a, b] = M as [Person, Person];
  await t.rejects(w.ref.host.register(w.id, a.peerId, a.publicKeyPem), code('PH_ERR_SESSION_NOT_INVITED'));
  w.accepted.add(`${w.id}/${a.peerId}`);
  await t.rejects(w.ref.host.register(w.id, a.peerId, b.publicKeyPem), code('PH_ERR_SESSION_KEY_MISMATCH'));
  await t.rejects(w.ref.host.register(w.id, a.peerId, 'not a key'), code('PH_ERR_BAD_REQUEST'));
  await t.rejects(w.ref.host.register('nope', a.peerId, a.publicKeyPem), code('PH_ERR_SESSION_NOT_FOUND'));
  t.same(w.ref.host.roster(w.id), []);
  await w.ref.host.stop();
});

t.test('a renewal crossing a removal does not put the removed member back', async (t) => {
  const w = await net(t.testdir(), 1);
  const [a] = M as [Person];
  await w.join(a);
  // The renewal is checked while the removal is applied; the removal revokes the acceptance (the agent's
  // check compares the acceptance with the removal time).
  const renewal = w.ref.host.register(w.id, a.peerId, a.publicKeyPem).catch((e: unknown) => e);
  const removal = w.ref.host.remove(w.id, a.peerId);
  w.accepted.delete(`${w.id}/${a.peerId}`);
  await removal;
  t.match(await renewal, code('PH_ERR_SESSION_NOT_INVITED'), 'the renewal is refused');
  t.same(w.ref.host.roster(w.id), [], 'the member stays removed');
  await w.ref.host.stop();
});

t.test('20 members: every member sees every message once, in one order', async (t) => {
  const w = await net(t.testdir(), 20);
  for (const p of M.slice(0, 20)) await w.join(p);
  const sent: Promise<SessionMessage>[] = [];
  for (let i = 0; i < 5; i++) {
    for (const p of M.slice(0, 20))
      sent.push(w.members.get(p.peerId)!.m.send(w.id, `${i}:${p.peerId.slice(0, 4)}`));
  }
  sent.push(w.ref.host.post(w.id, H.peerId, 'from the host'));
  await Promise.all(sent);
  await w.ref.host.settled();
  const hostOrder = w.ref.host.get(w.id).messages.map((m) => m.text);
  t.equal(hostOrder.length, 101);
  for (const p of M.slice(0, 20)) {
    t.same(w.texts(p), hostOrder, `member ${p.peerId.slice(0, 4)} has the host's order`);
    const seen = w.members.get(p.peerId)!.events.filter((e) => e.type === 'session:message');
    t.equal(seen.length, 101, 'each message once');
  }
  t.ok(w.ref.host.roster(w.id).every((m) => m.connected && m.lastAckSeq === 101));
  await w.ref.host.stop();
});

t.test(
  'a post whose answer is lost is sent again with its ref: one message, the sender told so',
  async (t) => {
    const w = await net(t.testdir(), 2);
    const [a, b] = M as [Person, Person];
    for (const p of [a, b]) await w.join(p);
    const ma = w.members.get(a.peerId)!.m;
    const settle = async (p: Promise<unknown>) => {
      p.catch(() => undefined);
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setImmediate(r));
        w.clock.advance(500);
      }
    };
    w.lostAnswers.set(a.peerId, 1);
    const once = ma.send(w.id, 'answer lost once');
    await settle(once);
    const msg = await once;
    t.equal(msg.text, 'answer lost once', 'the sender gets its message');
    w.lostAnswers.set(a.peerId, 3); // more than the retries
    const never = ma.send(w.id, 'answer always lost');
    await settle(never);
    await t.rejects(
      never,
      {
        code: 'PH_ERR_PEER_UNREACHABLE',
        message: /sent 3 times; if the host got it, the session has it once/,
      },
      'told it failed after the last try, and what that means',
    );
    await w.ref.host.settled();
    const log = w.ref.host.get(w.id).messages.map((m) => m.text);
    t.same(log, ['answer lost once', 'answer always lost'], 'the host sequenced each message once');
    t.same(w.texts(b), log, 'the other member has each once');
    await w.ref.host.stop();
  },
);

t.test('the host: the same ref from the same member is the same message; refs are checked', async (t) => {
  const w = await net(t.testdir(), 2);
  const [a, b] = M as [Person, Person];
  for (const p of [a, b]) await w.join(p);
  const first = await w.ref.host.post(w.id, a.peerId, 'hello', 'ref-000001');
  const again = await w.ref.host.post(w.id, a.peerId, 'hello', 'ref-000001');
  t.equal(again.seq, first.seq, 'same seq');
  const other = await w.ref.host.post(w.id, b.peerId, 'hello', 'ref-000001');
  t.equal(other.seq, first.seq + 1, "another member's key is its own");
  const plain = await w.ref.host.post(w.id, a.peerId, 'hello');
  t.equal(plain.seq, first.seq + 2, 'without a ref every post is a message');
  for (const bad of ['short', 'x'.repeat(65), 'has space!', 'ünïcode-ref']) {
    await t.rejects(w.ref.host.post(w.id, a.peerId, 'x', bad), code('PH_ERR_BAD_REQUEST'), `ref ${bad}`);
  }
  t.equal(w.ref.host.get(w.id).seq, first.seq + 2, 'refused posts took no seq');
  await w.ref.host.stop();
});

t.test('an offline member catches up; gaps are fetched; hostile input refused', async (t) => {
  const w = await net(t.testdir(), 3);
  const [a, b, c] = M as [Person, Person, Person];
  for (const p of [a, b, c]) await w.join(p);
  const am = w.members.get(a.peerId)!.m;
  await am.send(w.id, 'one');
  w.offline.add(b.peerId);
  await am.send(w.id, 'two');
  await am.send(w.id, 'three');
  await w.ref.host.settled();
  t.match(
    w.ref.host.roster(w.id).find((m) => m.peerId === b.peerId),
    { connected: false, lastAckSeq: 1 },
    'a failed delivery marks the member disconnected, others unaffected',
  );
  t.same(w.texts(c), ['one', 'two', 'three']);
  w.offline.delete(b.peerId);
  await w.members.get(b.peerId)!.m.catchUp(w.id);
  t.same(w.texts(b), ['one', 'two', 'three'], 'caught up on reconnect');
  t.match(
    w.ref.host.roster(w.id).find((m) => m.peerId === b.peerId),
    { connected: true, lastAckSeq: 3 },
  );

  w.offline.add(c.peerId);
  await am.send(w.id, 'four');
  w.offline.delete(c.peerId);
  await am.send(w.id, 'five');
  await w.ref.host.settled();
  t.same(w.texts(c), ['one', 'two', 'three', 'four', 'five'], 'a gap is detected and fetched');

  await t.rejects(am.send(w.id, 'x'.repeat(4097)), code('PH_ERR_SESSION_TEXT_TOO_LARGE'));
  await t.rejects(w.ref.host.post(w.id, H2.peerId, 'intruder'), code('PH_ERR_SESSION_NOT_MEMBER'));
  await t.rejects(w.ref.host.post('unknown', a.peerId, 'x'), code('PH_ERR_SESSION_NOT_FOUND'));
  t.throws(() => w.ref.host.catchUp(w.id, H2.peerId, 0), code('PH_ERR_SESSION_NOT_MEMBER'));
  t.throws(() => w.ref.host.catchUp(w.id, a.peerId, 99), code('PH_ERR_BAD_REQUEST'));
  await w.members
    .get(a.peerId)!
    .m.onDeliver(H2.peerId, { sessionId: w.id, seq: 99, from: 'x', text: 'x', at: 0 });
  await am.onDeliver(H.peerId, { nonsense: true });
  t.equal(w.texts(a).length, 5, 'messages from another host or malformed are dropped');
  await w.ref.host.stop();
});

t.test('backlog overflow: the member resyncs and learns what was lost', async (t) => {
  const w = await net(t.testdir(), 2, { maxMessages: 3 });
  const [a, b] = M as [Person, Person];
  await w.join(a);
  await w.join(b);
  w.offline.add(b.peerId);
  for (let i = 1; i <= 6; i++) await w.ref.host.post(w.id, a.peerId, `m${i}`);
  t.throws(() => w.ref.host.catchUp(w.id, b.peerId, 0), code('PH_ERR_SESSION_BACKLOG_GONE'));
  w.offline.delete(b.peerId);
  await w.ref.host.post(w.id, a.peerId, 'm7');
  await w.ref.host.settled();
  const bm = w.members.get(b.peerId)!;
  t.same(w.texts(b), ['m5', 'm6', 'm7']);
  t.match(
    bm.events.find((e) => e.type === 'session:resynced'),
    { data: { sessionId: w.id, lostAfter: 0, lostUntil: 4 } },
  );
  await w.ref.host.stop();
});

t.test('leave, remove and end reach everyone; host loss', async (t) => {
  const w = await net(t.testdir(), 4);
  const [a, b, c, d] = M as [Person, Person, Person, Person];
  for (const p of [a, b, c, d]) await w.join(p);
  const ev = (p: Person) => w.members.get(p.peerId)!.events;
  await w.members.get(a.peerId)!.m.leave(w.id);
  await w.ref.host.remove(w.id, b.peerId);
  await w.ref.host.settled();
  t.equal(w.members.get(a.peerId)!.m.get(w.id).state, 'left');
  t.equal(w.members.get(b.peerId)!.m.get(w.id).state, 'left', 'the removed member knows');
  for (const p of [c, d]) {
    t.match(
      ev(p).filter((e) => e.type === 'session:member-left'),
      [{ data: { peerId: a.peerId, reason: 'left' } }, { data: { peerId: b.peerId, reason: 'removed' } }],
    );
    t.same(
      w.members
        .get(p.peerId)!
        .m.get(w.id)
        .members.map((m) => m.peerId)
        .sort(),
      [c.peerId, d.peerId].sort(),
    );
  }
  t.same(
    w.ref.host
      .roster(w.id)
      .map((m) => m.peerId)
      .sort(),
    [c.peerId, d.peerId].sort(),
  );
  await t.rejects(w.ref.host.post(w.id, a.peerId, 'gone'), code('PH_ERR_SESSION_NOT_MEMBER'));

  w.members.get(c.peerId)!.m.onHostLost(H.peerId, 'keep-alive lost');
  t.equal(w.members.get(c.peerId)!.m.get(w.id).state, 'host-lost');
  t.match(ev(c).at(-1), { type: 'session:host-lost', data: { sessionId: w.id, hostPeerId: H.peerId } });
  await t.rejects(w.members.get(c.peerId)!.m.send(w.id, 'x'), code('PH_ERR_SESSION_ENDED'));

  await w.ref.host.end(w.id);
  await w.ref.host.settled();
  t.equal(w.members.get(d.peerId)!.m.get(w.id).state, 'ended');
  t.match(ev(d).at(-1), { type: 'session:ended', data: { sessionId: w.id } });
  t.equal(w.members.get(c.peerId)!.m.get(w.id).state, 'ended', 'a host-lost member learns of the end too');
  t.match(w.hostEvents.at(-1), { type: 'session:ended' });
  t.equal(w.ref.host.get(w.id).state, 'ended');
  await t.rejects(w.ref.host.post(w.id, c.peerId, 'late'), code('PH_ERR_SESSION_ENDED'));
  await t.rejects(w.ref.host.end(w.id), code('PH_ERR_SESSION_ENDED'));
  await w.ref.host.stop();
});

t.test('a host restart keeps sessions and rosters; seqs never repeat', async (t) => {
  const w = await net(t.testdir(), 2);
  const [a, b] = M as [Person, Person];
  const ja = await w.join(a);
  await w.join(b);
  await w.ref.host.post(w.id, a.peerId, 'before');
  await w.ref.host.settled();
  await w.ref.host.stop();
  w.ref.host = w.make();
  await w.ref.host.start();
  t.same(
    w.ref.host.list().map((s) => s.id),
    [w.id],
  );
  t.match(w.ref.host.get(w.id), { appId: 'chat', state: 'open', hostPeerId: H.peerId });
  t.same(
    w.ref.host
      .roster(w.id)
      .map((m) => m.peerId)
      .sort(),
    [a.peerId, b.peerId].sort(),
  );
  t.equal(w.ref.host.authenticateMember(w.id, ja.chainPem), a.peerId, 'issued certificates still work');
  const after = await w.ref.host.post(w.id, b.peerId, 'after');
  t.ok(after.seq > 1, 'seq goes on past the reservation');
  await w.ref.host.settled();
  t.same(w.texts(a), ['before', 'after'], 'the member resyncs over the restart');
  t.match(
    w.members.get(a.peerId)!.events.find((e) => e.type === 'session:resynced'),
    { data: { lostAfter: 1 } },
  );
  await w.ref.host.stop();
});
