import t from 'tap';
import {
  missedSince,
  newSession,
  SESSION_DEFAULTS,
  SESSION_TEXT_MAX_BYTES,
  stepSession,
  type HostedSession,
  type SessionConfig,
  type SessionInput,
} from '../../../firmware/collab/sessions-machine.js';
import { fromStored, toStored, validateSessions } from '../../../firmware/collab/sessions-store.js';
import { order } from '../../../firmware/collab/sessions-member.js';
import type { SessionMessage } from '../../../firmware/collab/sessions-types.js';

const T0 = 1_700_000_000_000;
const CERT = '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n';

function run(s: HostedSession, inputs: SessionInput[], cfg: SessionConfig = SESSION_DEFAULTS) {
  const effects = [];
  for (const ev of inputs) {
    const step = stepSession(s, ev, T0, cfg);
    if (step.error) throw new Error(step.error.code);
    s = step.state;
    effects.push(...step.effects);
  }
  return { s, effects };
}

const reg = (peerId: string): SessionInput => ({ type: 'register', peerId, certPem: CERT });
const post = (from: string, text: unknown): SessionInput => ({ type: 'post', from, text });

t.test('register, post, fan-out effects and one order', async (t) => {
  const { s, effects } = run(newSession({ id: 'S', hostPeerId: 'H' }, T0), [
    reg('A'),
    reg('B'),
    post('A', 'hi'),
  ]);
  t.equal(s.seq, 1);
  t.same([...s.members.keys()], ['A', 'B']);
  t.same(
    effects.map((e) => e.type + ('peerId' in e ? `:${e.peerId}` : '') + ('event' in e ? `:${e.event}` : '')),
    [
      'persist',
      'emit:session:member-joined',
      'persist',
      'emit:session:member-joined',
      'notify:A',
      'emit:session:message',
      'deliver:A',
      'deliver:B',
    ],
  );
  const again = stepSession(s, reg('A'), T0, SESSION_DEFAULTS);
  t.same(
    again.effects.map((e) => e.type),
    ['persist'],
    're-registering renews the certificate, no news',
  );
});

t.test('refusals carry codes', async (t) => {
  const { s } = run(newSession({ id: 'S', hostPeerId: 'H' }, T0), [reg('A')]);
  const code = (ev: SessionInput, st = s) => stepSession(st, ev, T0, SESSION_DEFAULTS).error?.code;
  t.equal(code(post('X', 'hi')), 'PH_ERR_SESSION_NOT_MEMBER');
  t.equal(code(post('A', 'x'.repeat(SESSION_TEXT_MAX_BYTES + 1))), 'PH_ERR_SESSION_TEXT_TOO_LARGE');
  t.equal(code(post('A', 'é'.repeat(SESSION_TEXT_MAX_BYTES / 2 + 1))), 'PH_ERR_SESSION_TEXT_TOO_LARGE');
  t.equal(code(post('A', 42)), 'PH_ERR_BAD_REQUEST');
  t.equal(code(post('A', '')), 'PH_ERR_BAD_REQUEST');
  t.equal(code(post('H', 'the host may post')), undefined);
  t.equal(code(reg('H')), 'PH_ERR_BAD_REQUEST');
  t.equal(code({ type: 'leave', peerId: 'X' }), 'PH_ERR_SESSION_NOT_MEMBER');
  const full = stepSession(s, reg('B'), T0, { ...SESSION_DEFAULTS, maxMembers: 1 });
  t.equal(full.error?.code, 'PH_ERR_SESSION_FULL');
  const ended = run(s, [{ type: 'end' }]).s;
  t.equal(code(post('A', 'late'), ended), 'PH_ERR_SESSION_ENDED');
  t.equal(code(reg('B'), ended), 'PH_ERR_SESSION_ENDED');
});

t.test('backlog bounded by count and bytes; catch-up and resync errors', async (t) => {
  const cfg = { ...SESSION_DEFAULTS, maxMessages: 5, maxBytes: 10_000 };
  let { s } = run(newSession({ id: 'S', hostPeerId: 'H' }, T0), [reg('A')], cfg);
  for (let i = 1; i <= 8; i++) s = run(s, [post('A', `m${i}`)], cfg).s;
  t.same(
    s.backlog.map((m) => m.seq),
    [4, 5, 6, 7, 8],
  );
  t.equal(s.floorSeq, 3);
  t.same(
    (missedSince(s, 'A', 3) as { messages: SessionMessage[] }).messages.map((m) => m.seq),
    [4, 5, 6, 7, 8],
  );
  t.match(missedSince(s, 'A', 2), { error: { code: 'PH_ERR_SESSION_BACKLOG_GONE', statusCode: 410 } });
  t.match(missedSince(s, 'A', 9), { error: { code: 'PH_ERR_BAD_REQUEST' } });
  t.match(missedSince(s, 'A', -1), { error: { code: 'PH_ERR_BAD_REQUEST' } });
  t.match(missedSince(s, 'Z', 5), { error: { code: 'PH_ERR_SESSION_NOT_MEMBER' } });

  const bytes = { ...SESSION_DEFAULTS, maxBytes: 3 * (4000 + 1 + 64) };
  let b = run(newSession({ id: 'S', hostPeerId: 'H' }, T0), [reg('A')], bytes).s;
  for (let i = 0; i < 5; i++) b = run(b, [post('A', 'y'.repeat(4000))], bytes).s;
  t.equal(b.backlog.length, 3, 'the byte bound drops the oldest');
  t.ok(b.backlogBytes <= bytes.maxBytes);
});

t.test('delivery outcomes: disconnected once, reconnected on success', async (t) => {
  let { s } = run(newSession({ id: 'S', hostPeerId: 'H' }, T0), [reg('A')]);
  const down = stepSession(s, { type: 'undeliverable', peerId: 'A', reason: 'gone' }, T0, SESSION_DEFAULTS);
  t.same(
    down.effects.map((e) => e.type),
    ['disconnected'],
  );
  t.equal(down.state.members.get('A')?.connected, false);
  const again = stepSession(
    down.state,
    { type: 'undeliverable', peerId: 'A', reason: 'x' },
    T0,
    SESSION_DEFAULTS,
  );
  t.same(again.effects, [], 'reported once');
  s = stepSession(again.state, { type: 'delivered', peerId: 'A', seq: 7 }, T0, SESSION_DEFAULTS).state;
  t.match(s.members.get('A'), { connected: true, lastAckSeq: 7 });
});

t.test('leave, remove and end tell the right members', async (t) => {
  const { s } = run(newSession({ id: 'S', hostPeerId: 'H' }, T0), [reg('A'), reg('B'), reg('C')]);
  const who = (ev: SessionInput) =>
    stepSession(s, ev, T0, SESSION_DEFAULTS)
      .effects.filter((e) => e.type === 'notify')
      .map((e) => (e.type === 'notify' ? `${e.peerId}:${e.notice.type}` : ''));
  t.same(who({ type: 'leave', peerId: 'A' }), ['B:member-left', 'C:member-left']);
  t.same(who({ type: 'remove', peerId: 'A' }), ['B:member-left', 'C:member-left', 'A:member-left']);
  t.same(who({ type: 'end' }), ['A:ended', 'B:ended', 'C:ended']);
});

t.test('store record round trip and validation', async (t) => {
  const { s } = run(newSession({ id: 'S', hostPeerId: 'H', appId: 'app' }, T0), [reg('A'), post('A', 'x')]);
  const rec = toStored(s, 1000);
  t.same(validateSessions({ version: 1, sessions: [rec] }).sessions[0], rec);
  const back = fromStored(rec);
  t.match(back, { id: 'S', appId: 'app', seq: 1000, floorSeq: 1000, backlog: [] });
  t.match(back.members.get('A'), { connected: false, certPem: CERT });
  t.throws(() => validateSessions({ sessions: [rec, rec] }), /listed twice/);
  t.throws(() => validateSessions({ sessions: [{ ...rec, state: 'weird' }] }), /state/);
  t.throws(() => validateSessions({ sessions: [{ ...rec, seqReserved: -1 }] }), /seqReserved/);
  t.throws(() => validateSessions({}), /must be a list/);
});

t.test('member ordering: in order, duplicates, gaps, bounded hold', async (t) => {
  const m = (seq: number): SessionMessage => ({ sessionId: 'S', seq, from: 'A', text: `${seq}`, at: T0 });
  let r = order(0, new Map(), [m(1), m(2)]);
  t.same(
    r.ready.map((x) => x.seq),
    [1, 2],
  );
  t.notOk(r.gap);
  r = order(r.lastSeq, r.ahead, [m(2)]);
  t.same(r.ready, [], 'duplicate ignored');
  r = order(r.lastSeq, r.ahead, [m(5), m(4)]);
  t.ok(r.gap);
  t.same([...r.ahead.keys()].sort(), [4, 5]);
  r = order(r.lastSeq, r.ahead, [m(3)]);
  t.same(
    r.ready.map((x) => x.seq),
    [3, 4, 5],
  );
  t.notOk(r.gap);
  const big = order(0, new Map(), [m(10), m(11), m(12)], 2);
  t.same([...big.ahead.keys()], [10, 11], 'the hold is bounded, lowest kept');
});
