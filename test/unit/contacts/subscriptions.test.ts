import t, { type Test } from 'tap';
import {
  createContactPresence,
  parsePresence,
  type ContactPresence,
} from '../../../firmware/contacts/index.js';
import { ALICE, BOB, contact, flush, harness } from './subscriptions-helpers.js';

type H = ReturnType<typeof harness>;
function service(t: Test, h: H, init = {}): ContactPresence {
  const s = createContactPresence(h.deps, { retry: { minMs: 1000, maxMs: 30_000 }, ...init });
  t.teardown(() => s.stop());
  return s;
}

t.test('online → pushed change → offline at once on unreachable → back-off → poke → removal', async (t) => {
  const h = harness();
  h.contacts.set(ALICE, contact(ALICE, ['10.0.0.2:7443']));
  h.behave.set('10.0.0.2:7443', 'ok');
  h.presence.set(ALICE, { status: 'Busy', text: 'call', seq: 3 });
  const s = service(t, h);
  await s.start();
  await s.start();
  await flush();
  t.same(h.attempts, ['subscribe /v1/events @ 10.0.0.2:7443']);
  t.same(h.requests, ['GET /v1/presence @ 10.0.0.2:7443'], 'one snapshot');
  t.match(s.view(ALICE), {
    online: true,
    state: 'online',
    endpoint: '10.0.0.2:7443',
    presence: { status: 'Busy', seq: 3 },
  });
  t.same(h.types(), ['contact:online', 'contact:presence']);

  const [stream] = h.open(ALICE);
  stream!.onEvent({
    id: 41,
    type: 'presence:changed',
    data: { status: 'Away', text: 'lunch', seq: 4, scope: 'All' },
  });
  stream!.onEvent({ id: 42, type: 'presence:changed', data: { status: 'Online', text: 'old', seq: 2 } });
  stream!.onEvent({ id: 43, type: 'object:changed', data: { id: 'o' } });
  stream!.onEvent({ id: 44, type: 'presence:changed', data: { status: 'Nope', seq: 5 } });
  t.same(h.events.at(-1), {
    type: 'contact:presence',
    data: { peerId: ALICE, status: 'Away', text: 'lunch', seq: 4 },
  });
  t.equal(h.events.length, 3, 'stale seq and malformed events ignored');
  t.same(h.requests.length, 1, 'pushed, not polled');

  h.behave.set('10.0.0.2:7443', 'down');
  const at = h.clock.now();
  h.unreachable(ALICE);
  t.same(h.events.at(-1), {
    type: 'contact:offline',
    data: { peerId: ALICE, reason: 'unreachable: no PING answer' },
  });
  t.match(s.view(ALICE), { online: false, state: 'offline', since: at, presence: { status: 'Away' } });
  t.ok(stream!.closed, 'the old stream is closed');
  stream!.end('closed');
  await flush();
  t.equal(h.types().filter((x) => x === 'contact:offline').length, 1, 'reported once');

  const retries: number[] = [];
  for (let i = 0; i < 4; i++) {
    const before = h.attempts.length;
    for (let ms = 0; h.attempts.length === before && ms < 60_000; ms += 500) {
      h.clock.advance(500);
      await flush();
    }
    retries.push(h.clock.now() - at);
  }
  t.same(retries, [1000, 3000, 7000, 15_000], 'exponential back-off');
  t.same(h.attempts.at(-1), 'subscribe /v1/events?since=44 @ 10.0.0.2:7443', 'resumes after the last event');

  h.behave.set('10.0.0.2:7443', 'ok');
  h.clock.advance(1000);
  s.poke(ALICE);
  await flush();
  t.match(s.view(ALICE), { state: 'online' });
  t.equal(h.types().filter((x) => x === 'contact:online').length, 2, 'poke reconnects at once');

  h.removeContact(ALICE);
  await flush();
  t.match(s.view(ALICE), { state: 'idle', online: false, presence: null });
  t.equal(h.open(ALICE).length, 0);
  t.same(h.events.at(-1), { type: 'contact:offline', data: { peerId: ALICE, reason: 'unfollowed' } });
  t.equal(h.clock.pending, 0, 'no retries left');
  const n = h.attempts.length;
  s.poke(ALICE);
  h.clock.advance(120_000);
  await flush();
  t.equal(h.attempts.length, n, 'nothing more for a removed contact');
});

t.test('forbidden: the contact’s hub refuses; retried at maxMs, not hurried by a poke', async (t) => {
  const h = harness();
  h.contacts.set(BOB, contact(BOB, ['10.0.0.3:7443']));
  h.behave.set('10.0.0.3:7443', 'forbidden');
  const s = service(t, h);
  await s.start();
  await flush();
  t.match(s.view(BOB), { state: 'forbidden', online: false });
  t.same(h.requests, [], 'no snapshot without a subscription');
  s.poke(BOB);
  h.clock.advance(29_999);
  await flush();
  t.equal(h.attempts.length, 1);
  h.behave.set('10.0.0.3:7443', 'ok');
  h.clock.advance(1);
  await flush();
  t.match(s.view(BOB), { state: 'online' });
  t.same(h.types(), ['contact:online', 'contact:presence'], 'no offline for a contact never online');
});

t.test('blocked contacts are not followed; allowing one starts it, blocking stops it', async (t) => {
  const h = harness();
  h.contacts.set(BOB, contact(BOB, ['10.0.0.3:7443'], 'blocked'));
  h.behave.set('10.0.0.3:7443', 'ok');
  const s = service(t, h);
  await s.start();
  await flush();
  t.same(h.attempts, []);
  t.same(s.views(), []);
  h.setContact(contact(BOB, ['10.0.0.3:7443'], 'allowed'));
  await flush();
  t.match(s.views(), [{ peerId: BOB, state: 'online' }]);
  h.setContact(contact(BOB, ['10.0.0.3:7443'], 'blocked'));
  await flush();
  t.same(s.views(), []);
  t.equal(h.open(BOB).length, 0);
});

t.test(
  'endpoints: a verified nearby row first, then stored ones in order; unverified rows ignored',
  async (t) => {
    const h = harness();
    h.contacts.set(ALICE, contact(ALICE, ['203.0.113.5:7443', 'alice.example.net']));
    h.nearbyRows.push({ id: ALICE, endpoints: ['10.6.6.6:7443'], verified: false });
    h.nearbyRows.push({ id: ALICE, endpoints: ['10.0.0.2:7443'], verified: true });
    h.behave.set('alice.example.net:7443', 'ok');
    const s = service(t, h);
    await s.start();
    await flush();
    t.same(h.attempts, [
      'subscribe /v1/events @ 10.0.0.2:7443',
      'subscribe /v1/events @ 203.0.113.5:7443',
      'subscribe /v1/events @ alice.example.net:7443',
    ]);
    t.match(s.view(ALICE), { state: 'online', endpoint: 'alice.example.net' });
  },
);

t.test('no endpoint at all: offline, and a changed endpoint list retries at once', async (t) => {
  const h = harness();
  h.contacts.set(ALICE, contact(ALICE, []));
  const s = service(t, h);
  await s.start();
  await flush();
  t.match(s.view(ALICE), { state: 'offline' });
  h.behave.set('10.0.0.2:7443', 'ok');
  h.setContact(contact(ALICE, ['10.0.0.2:7443']));
  await flush();
  t.match(s.view(ALICE), { state: 'online', endpoint: '10.0.0.2:7443' });
});

t.test('the stream ending is reported like a lost keep-alive', async (t) => {
  const h = harness();
  h.contacts.set(ALICE, contact(ALICE, ['10.0.0.2:7443']));
  h.behave.set('10.0.0.2:7443', 'ok');
  const s = service(t, h);
  await s.start();
  await flush();
  h.open(ALICE)[0]!.end('error: reset');
  await flush();
  t.same(h.events.at(-1), {
    type: 'contact:offline',
    data: { peerId: ALICE, reason: 'stream error: reset' },
  });
  h.clock.advance(1000);
  await flush();
  t.match(s.view(ALICE), { state: 'online' }, 'back after minMs');
});

t.test('stop: streams closed, timers cleared, listeners removed; view of a stranger is idle', async (t) => {
  const h = harness();
  h.contacts.set(ALICE, contact(ALICE, ['10.0.0.2:7443']));
  h.contacts.set(BOB, contact(BOB, ['10.0.0.3:7443']));
  h.behave.set('10.0.0.2:7443', 'ok');
  const s = service(t, h);
  await s.start();
  await flush();
  t.equal(h.clock.pending, 1, 'Bob waits for a retry');
  await s.stop();
  await s.stop();
  t.equal(h.clock.pending, 0);
  t.equal(h.open(ALICE).length, 0);
  t.notOk(h.listening());
  t.same(s.view('Z'.repeat(51) + 'A'), {
    online: false,
    presence: null,
    endpoint: null,
    state: 'idle',
    since: 0,
  });
});

t.test('parsePresence', async (t) => {
  t.same(parsePresence({ status: 'Busy', text: 'x', seq: 2 }), { status: 'Busy', text: 'x', seq: 2 });
  t.same(parsePresence({ status: 'Busy', seq: 2, scope: 'None' }), { status: 'Offline', text: '', seq: 2 });
  t.equal(parsePresence({ status: 'Busy' }), null);
  t.equal(parsePresence(null), null);
});

t.test('ApplicationChanged / ObjectChanged of a contact arrive as contact events', async (t) => {
  const h = harness();
  h.contacts.set(ALICE, contact(ALICE, ['10.0.0.2:7443']));
  h.behave.set('10.0.0.2:7443', 'ok');
  h.presence.set(ALICE, { status: 'Online', text: '', seq: 1 });
  const s = service(t, h);
  await s.start();
  await flush();
  const [stream] = h.open(ALICE);
  stream!.onEvent({ id: 5, type: 'application:changed', data: { change: 'added', id: 'chess' } });
  stream!.onEvent({ id: 6, type: 'object:changed', data: { change: 'removed', id: 'avatar' } });
  stream!.onEvent({ id: 7, type: 'object:changed', data: { change: 'exploded', id: 'x' } });
  stream!.onEvent({ id: 8, type: 'application:changed', data: 'garbage' });
  t.same(h.events.slice(-2), [
    { type: 'contact:application', data: { peerId: ALICE, change: 'added', applicationId: 'chess' } },
    { type: 'contact:object', data: { peerId: ALICE, change: 'removed', objectId: 'avatar' } },
  ]);
  t.same(
    h.types().filter((x) => x === 'contact:application' || x === 'contact:object'),
    ['contact:application', 'contact:object'],
    'malformed changes ignored',
  );
});
