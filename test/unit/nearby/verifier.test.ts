import t, { type Test } from 'tap';
import { createNearbyVerifier, type NearbyVerifier } from '../../../firmware/nearby/index.js';
import { ALICE, BOB, flush, harness, MALLORY, nearby, SELF, type Harness } from './helpers.js';

function start(t: Test, h: Harness, init: Record<string, number> = {}): NearbyVerifier {
  const v = createNearbyVerifier(h.deps, { selfPeerId: SELF, ...init });
  t.teardown(() => v.stop());
  return v;
}
const rowOf = (v: NearbyVerifier, instance: string) => v.view().find((r) => r.instance === instance);

t.test('the real owner is verified; a hub announcing the same id with another key is a spoof', async (t) => {
  const real = nearby('Alice', ALICE, ['10.0.0.2:7443']);
  const fake = nearby('Alice (2)', ALICE, ['10.0.0.66:7443']);
  const h = harness([real]);
  h.behave.set('10.0.0.2:7443', { proves: ALICE });
  h.behave.set('10.0.0.66:7443', { spoof: MALLORY });
  h.contacts.add(ALICE);
  const v = start(t, h);
  await v.start();
  await v.start(); // idempotent
  h.found(fake);
  await flush();
  t.match(rowOf(v, 'Alice'), { id: ALICE, verified: true, spoof: false, contact: true });
  t.match(rowOf(v, 'Alice (2)'), {
    id: ALICE,
    verified: false,
    spoof: true,
    contact: false,
    spoofedBy: MALLORY,
  });
  t.notOk('spoofedBy' in rowOf(v, 'Alice')!);
  t.same(
    h.events.map((e) => e.type),
    ['peer:verified', 'peer:spoof'],
  );
  t.match(h.events[0]?.data, { peer: { instance: 'Alice', verified: true } });
  t.same(h.events[1]?.data, {
    claimed: ALICE,
    presented: MALLORY,
    endpoint: '10.0.0.66:7443',
    instance: 'Alice (2)',
  });
  t.same(h.calls.sort(), ['10.0.0.2:7443', '10.0.0.66:7443'], 'one check per endpoint');
  // rowsOf(id): exactly view()'s rows for that id, the verified one and the spoof alike.
  h.found(nearby('Bob', BOB, ['10.0.0.3:7443']));
  t.same(
    v.rowsOf(ALICE),
    v.view().filter((r) => r.id === ALICE),
  );
  t.equal(v.rowsOf(ALICE).length, 2);
  t.same(
    v.rowsOf(BOB).map((r) => r.instance),
    ['Bob'],
  );
  t.same(v.rowsOf(MALLORY), [], 'an id nobody announces has no rows');
});

t.test('a proof of another id than asked is not a proof', async (t) => {
  const h = harness([nearby('Bob', BOB, ['10.0.0.3:7443'])]);
  h.behave.set('10.0.0.3:7443', { proves: ALICE });
  const v = start(t, h);
  await v.start();
  await flush();
  t.match(rowOf(v, 'Bob'), { verified: false, spoof: false });
  t.same(h.events, []);
});

t.test('unreachable: unverified (not spoof), retried with back-off, verified once it answers', async (t) => {
  const bob = nearby('Bob', BOB, ['10.0.0.3:7443']);
  const h = harness([bob]);
  h.behave.set('10.0.0.3:7443', 'down');
  const v = start(t, h);
  await v.start();
  await flush();
  t.match(rowOf(v, 'Bob'), { verified: false, spoof: false });
  t.equal(h.calls.length, 1);
  h.clock.advance(29_999);
  await flush();
  t.equal(h.calls.length, 1, 'not before 30 s');
  h.clock.advance(1);
  await flush();
  t.equal(h.calls.length, 2, 'retried at 30 s');
  h.clock.advance(59_999);
  await flush();
  t.equal(h.calls.length, 2);
  h.behave.set('10.0.0.3:7443', { proves: BOB });
  h.clock.advance(1);
  await flush();
  t.equal(h.calls.length, 3, 'then 60 s later');
  t.match(rowOf(v, 'Bob'), { verified: true, contact: false });
  t.same(
    h.events.map((e) => e.type),
    ['peer:verified'],
  );
  t.equal(h.clock.pending, 0, 'no timer once verified');
});

t.test('gives up after maxAttempts until found again', async (t) => {
  const bob = nearby('Bob', BOB, ['10.0.0.3:7443']);
  const h = harness([bob]);
  h.behave.set('10.0.0.3:7443', 'down');
  const v = start(t, h, { maxAttempts: 2, retryMs: 1000 });
  await v.start();
  await flush();
  h.clock.advance(1000);
  await flush();
  h.clock.advance(3_600_000);
  await flush();
  t.equal(h.calls.length, 2);
  t.equal(h.clock.pending, 0);
  h.behave.set('10.0.0.3:7443', { proves: BOB });
  h.lost(bob);
  h.found(bob);
  await flush();
  t.equal(h.calls.length, 3);
  t.match(rowOf(v, 'Bob'), { verified: true });
});

t.test('bounded concurrency; a hanging check times out and frees its slot', async (t) => {
  const peers = Array.from({ length: 10 }, (_, i) =>
    nearby(`P${i}`, `${i}`.repeat(52), [`10.0.1.${i}:7443`]),
  );
  const h = harness(peers);
  for (const p of peers) h.behave.set(p.endpoints[0]!, 'hang');
  const v = start(t, h, { concurrency: 4, checkTimeoutMs: 5000 });
  await v.start();
  await flush();
  t.equal(h.calls.length, 4);
  t.match(v.counters(), { inflight: 4, queued: 6, targets: 10 });
  h.behave.set('10.0.1.0:7443', { proves: '0'.repeat(52) });
  h.release('10.0.1.0:7443');
  await flush();
  t.equal(h.calls.length, 5, 'a settled check lets the next one start');
  t.match(rowOf(v, 'P0'), { verified: true });
  h.clock.advance(5000);
  await flush();
  t.equal(h.calls.length, 9, 'timed-out checks (P1–P4) free their slots');
  t.match(rowOf(v, 'P1'), { verified: false, spoof: false });
  t.match(v.counters(), { inflight: 4 });
  // A hanging fetch that answers after its time-out is ignored.
  h.behave.set('10.0.1.1:7443', { proves: '1'.repeat(52) });
  h.release('10.0.1.1:7443');
  await flush();
  t.match(rowOf(v, 'P1'), { verified: false });
});

t.test('no work for lost peers; a late answer for a lost peer is dropped', async (t) => {
  const a = nearby('A', ALICE, ['10.0.0.2:7443']);
  const b = nearby('B', BOB, ['10.0.0.3:7443']);
  const c = nearby('C', MALLORY, ['10.0.0.4:7443']);
  const h = harness([a, b, c]);
  h.behave.set('10.0.0.2:7443', 'hang');
  h.behave.set('10.0.0.4:7443', 'down');
  const v = start(t, h, { concurrency: 1 });
  await v.start();
  await flush();
  t.same(h.calls, ['10.0.0.2:7443']);
  h.lost(b); // queued: never checked
  h.lost(a); // in flight: its answer is dropped
  h.behave.set('10.0.0.2:7443', { proves: ALICE });
  h.release('10.0.0.2:7443');
  await flush();
  t.same(h.calls, ['10.0.0.2:7443', '10.0.0.4:7443']);
  t.equal(h.clock.pending, 1, 'C waits for its retry');
  h.lost(c);
  t.equal(h.clock.pending, 0, 'its retry is cancelled');
  t.same(h.events, []);
  t.equal(v.counters().targets, 0);
});

t.test('re-checked when endpoints change; not on a mere status change', async (t) => {
  const a = nearby('A', ALICE, ['10.0.0.2:7443']);
  const h = harness([a]);
  h.behave.set('10.0.0.2:7443', { proves: ALICE });
  h.behave.set('10.0.0.9:7443', { spoof: MALLORY });
  const v = start(t, h);
  await v.start();
  await flush();
  h.changed({ ...a, status: 'Busy', seq: 2 });
  await flush();
  t.equal(h.calls.length, 1);
  h.changed({ ...a, endpoints: ['10.0.0.2:7443', '10.0.0.9:7443'], seq: 3 });
  await flush();
  t.same(h.calls, ['10.0.0.2:7443', '10.0.0.9:7443']);
  t.match(rowOf(v, 'A'), { verified: false, spoof: true }, 'one endpoint proving another id: spoof wins');
  h.changed({ ...a, endpoints: ['10.0.0.2:7443'], seq: 4 });
  await flush();
  t.match(rowOf(v, 'A'), { verified: true, spoof: false });
  t.same(
    h.events.map((e) => e.type),
    ['peer:verified', 'peer:spoof', 'peer:verified'],
  );
});

t.test('rows that are not peerhub records, without id, or ourselves are never checked', async (t) => {
  const h = harness([
    nearby('Printer', null, ['10.0.0.5:7443'], { wellFormed: false }),
    nearby('Odd', BOB, ['10.0.0.6:7443'], { wellFormed: false }),
    nearby('Me', SELF, ['10.0.0.1:7443']),
    nearby('NoAddr', ALICE, []),
    nearby('BadAddr', MALLORY, ['not an endpoint:x']),
  ]);
  const v = start(t, h);
  await v.start();
  await flush();
  t.same(h.calls, []);
  t.ok(v.view().every((r) => !r.verified && !r.spoof && !r.contact));
  t.equal(v.view().length, 5);
});

t.test('stop: no timers, no listeners, no events afterwards', async (t) => {
  const a = nearby('A', ALICE, ['10.0.0.2:7443']);
  const b = nearby('B', BOB, ['10.0.0.3:7443']);
  const h = harness([a, b]);
  h.behave.set('10.0.0.2:7443', 'hang');
  h.behave.set('10.0.0.3:7443', 'down');
  const v = start(t, h);
  await v.start();
  await flush();
  t.ok(h.clock.pending > 0);
  await v.stop();
  await v.stop();
  t.equal(h.clock.pending, 0);
  h.behave.set('10.0.0.2:7443', { proves: ALICE });
  h.release('10.0.0.2:7443');
  h.found(nearby('C', MALLORY, ['10.0.0.4:7443']));
  await flush();
  t.equal(h.calls.length, 2);
  t.same(h.events, []);
});

/** Bob at 10.0.0.3, announced and proven by one check. */
async function bobProven(t: Test, init: Record<string, number> = {}) {
  const bob = nearby('Bob', BOB, ['10.0.0.3:7443']);
  const h = harness([bob]);
  h.behave.set('10.0.0.3:7443', { proves: BOB });
  const v = start(t, h, init);
  await v.start();
  await flush();
  return { bob, h, v };
}

t.test(
  'a pair proven lately is verified again at once when re-found; once the proof is older, checked',
  async (t) => {
    const { bob, h, v } = await bobProven(t, { rememberMs: 60_000 });
    t.equal(h.calls.length, 1);
    h.lost(bob);
    h.clock.advance(59_000);
    h.found(bob);
    await flush();
    t.equal(h.calls.length, 1, 'no second handshake within rememberMs');
    t.match(rowOf(v, 'Bob'), { verified: true });
    t.same(
      h.events.map((e) => e.type),
      ['peer:verified', 'peer:verified'],
      'shown verified again',
    );
    t.match(v.counters(), { remembered: 1, checks: 1 });
    // The memory dates from the proof, not from the re-found: 60 s after it, a new check.
    h.lost(bob);
    h.clock.advance(1_000);
    h.found(bob);
    await flush();
    t.equal(h.calls.length, 2, 'checked again once the proof is older than rememberMs');
    t.match(rowOf(v, 'Bob'), { verified: true });
    h.lost(bob);
    const eve = nearby('Eve', BOB, ['10.0.0.3:7443']);
    h.found(eve);
    await flush();
    t.match(rowOf(v, 'Eve'), { verified: true }, 'same id and endpoint under another name: same proof');
    t.equal(h.calls.length, 2);
  },
);

t.test('another endpoint, or another id at the same endpoint, is never covered by a proof', async (t) => {
  const { bob, h, v } = await bobProven(t);
  h.behave.set('10.0.0.9:7443', { spoof: MALLORY });
  h.lost(bob);
  h.found(nearby('Bob', BOB, ['10.0.0.9:7443']));
  await flush();
  t.equal(h.calls.length, 2, 'a new endpoint is checked');
  t.match(rowOf(v, 'Bob'), { verified: false, spoof: true });
  h.lost(nearby('Bob', BOB, ['10.0.0.9:7443']));
  h.behave.set('10.0.0.3:7443', { spoof: MALLORY });
  h.found(nearby('Alice', ALICE, ['10.0.0.3:7443']));
  await flush();
  t.equal(h.calls.length, 3, 'another id at a proven endpoint is checked');
  t.match(rowOf(v, 'Alice'), { verified: false });
});

t.test('a proven pair whose check fails later is checked again when re-found', async (t) => {
  const { bob, h, v } = await bobProven(t);
  h.behave.set('10.0.0.3:7443', 'down');
  h.found(bob); // found again while tracked: checked again, and it fails
  await flush();
  t.equal(h.calls.length, 2);
  t.match(rowOf(v, 'Bob'), { verified: false });
  h.behave.set('10.0.0.3:7443', { proves: BOB });
  h.lost(bob);
  h.found(bob);
  await flush();
  t.equal(h.calls.length, 3, 'the failure forgot the proof');
  t.match(rowOf(v, 'Bob'), { verified: true });
});
