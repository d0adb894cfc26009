import t from 'tap';
import { announceStep, initialAnnounceState } from '../../../firmware/presence/announcer.js';
import { QUERY_MAX_INTERVAL, QUERY_RESTART_GAP } from '../../../firmware/presence/constants.js';
import {
  nextHostLabel,
  nextInstanceLabel,
  parseTxt,
  instanceLabel,
} from '../../../firmware/presence/names.js';
import { initialProbeState, probeStep, type ProbeState } from '../../../firmware/presence/prober.js';
import { initialQueryState, queryStep } from '../../../firmware/presence/querier.js';
import { tieBreak } from '../../../firmware/presence/records.js';
import { rr } from './fixtures/world.js';

t.test('prober: delay, 3 probes 250 ms apart, probed 250 ms after the last', async (t) => {
  let s: ProbeState = probeStep(initialProbeState(), { type: 'start', random: 0.5 }, 0).state;
  t.equal(s.nextAt, 125);
  const sends: number[] = [];
  let probedAt = -1;
  for (let now = 0; now <= 2000; now += 1) {
    const r = probeStep(s, { type: 'tick' }, now);
    s = r.state;
    for (const fx of r.effects) {
      if (fx.type === 'send-probe') sends.push(now);
      if (fx.type === 'probed') probedAt = now;
    }
  }
  t.same(sends, [125, 375, 625]);
  t.equal(probedAt, 875);
});

t.test('prober: lost tie-break defers 1 s and restarts; conflict asks to rename; rate limit', async (t) => {
  let s = probeStep(initialProbeState(), { type: 'start', random: 0 }, 0).state;
  s = probeStep(s, { type: 'tick' }, 0).state;
  s = probeStep(s, { type: 'lost-tiebreak' }, 100).state;
  t.same([s.sent, s.nextAt], [0, 1100]);
  const r = probeStep(s, { type: 'conflict' }, 200);
  t.same(r.effects, [{ type: 'rename' }]);
  let c = r.state;
  for (let i = 0; i < 15; i++) c = probeStep(c, { type: 'conflict' }, 300 + i).state;
  t.equal(probeStep(c, { type: 'start', random: 0 }, 400).state.nextAt, 5400, '15 conflicts in 10 s → 5 s');
});

t.test('announcer: first at once, then 1 s, 2 s', async (t) => {
  let r = announceStep(initialAnnounceState(), { type: 'start' }, 0);
  const at = [0];
  for (let now = 1; now < 10_000; now++) {
    r = announceStep(r.state, { type: 'tick' }, now);
    if (r.effects.length) at.push(now);
  }
  t.same(at, [0, 1000, 3000]);
  t.equal(r.state.phase, 'announced');
});

t.test('browse query: 20–120 ms, then 1 s, 2 s, 4 s… capped at 60 min', async (t) => {
  let s = queryStep(initialQueryState(), { type: 'start', random: 0 }, 0).state;
  t.equal(s.nextAt, 20);
  const at: number[] = [];
  for (let i = 0; i < 20; i++) {
    const now = s.nextAt as number;
    s = queryStep(s, { type: 'tick' }, now).state;
    at.push(now);
  }
  t.same(at.slice(0, 4), [20, 1020, 3020, 7020]);
  t.equal(s.interval, QUERY_MAX_INTERVAL);
  t.equal(at[19]! - at[18]!, QUERY_MAX_INTERVAL);
});

t.test('tie-break (§8.2): class, type, then rdata bytes; longer set wins; identical = 0', async (t) => {
  const srv = (target: string, port = 1) =>
    rr('x.local', { kind: 'SRV', priority: 0, weight: 0, port, target });
  t.ok(tieBreak([srv('a.local')], [srv('b.local')]) < 0);
  t.ok(tieBreak([srv('b.local')], [srv('a.local')]) > 0);
  t.ok(tieBreak([srv('z.local', 1)], [srv('a.local', 2)]) < 0, 'port bytes come before the target');
  t.equal(tieBreak([srv('a.local')], [srv('a.local')]), 0);
  const a = rr('x.local', { kind: 'A', address: '10.0.0.1' });
  t.ok(tieBreak([a], [a, srv('a.local')]) < 0, 'prefix loses');
  t.ok(tieBreak([srv('a.local')], [a]) > 0, 'SRV (33) is after A (1)');
});

t.test('renaming and TXT parsing', async (t) => {
  t.equal(nextInstanceLabel('Kitchen'), 'Kitchen (2)');
  t.equal(nextInstanceLabel('Kitchen (2)'), 'Kitchen (3)');
  t.equal(nextHostLabel('peerhub-x'), 'peerhub-x-2');
  t.equal(nextHostLabel('peerhub-x-2'), 'peerhub-x-3');
  t.ok(Buffer.byteLength(nextInstanceLabel('é'.repeat(40))) <= 63);
  t.equal(instanceLabel('\u0000\u0007 '), 'peerhub');
  const ok = parseTxt(['v=1', 'id=ABCDEFG-HIJKLMN', 'st=Busy', 'seq=7', 'ID=dup'].map((s) => Buffer.from(s)));
  t.same([ok.wellFormed, ok.id, ok.status, ok.seq], [true, 'ABCDEFG-HIJKLMN', 'Busy', 7]);
  t.same(parseTxt([]).wellFormed, false);
  t.same(parseTxt([Buffer.from([0xff, 0x3d])]).status, 'Unknown');
});

t.test('browse query: the question asked by someone else counts as sent (§7.3), never sooner', async (t) => {
  let s = queryStep(initialQueryState(), { type: 'start', random: 0 }, 0).state;
  s = queryStep(s, { type: 'tick' }, 20).state; // sent at 20; next at 1020, then 2 s
  t.same([s.nextAt, s.interval], [1020, 2000]);
  const asked = queryStep(s, { type: 'asked' }, 500);
  t.same(asked.effects, [], 'nothing sent');
  t.same([asked.state.nextAt, asked.state.interval], [2500, 4000], 'as if sent at 500');
  const late = queryStep(
    { nextAt: 100_000, interval: 1000, sent: 3, restartedAt: null },
    { type: 'asked' },
    10,
  );
  t.equal(late.state.nextAt, 100_000, 'a query planned later stays planned');
  t.same(queryStep(initialQueryState(), { type: 'asked' }, 5).state, initialQueryState(), 'not browsing');
});

t.test(
  'browse query restart (peers expired): next query in 1–2 s, then 2 s, 4 s…; once a minute at most',
  async (t) => {
    const s = { nextAt: 5_000_000, interval: 3_600_000, sent: 20, restartedAt: null };
    const r = queryStep(s, { type: 'restart', random: 0.5 }, 1000);
    t.same(r.state, { nextAt: 2500, interval: 2000, sent: 20, restartedAt: 1000 });
    t.same(r.effects, []);
    const sooner = { nextAt: 1200, interval: 1000, sent: 1, restartedAt: null };
    t.same(queryStep(sooner, { type: 'restart', random: 0.5 }, 1000).state, sooner, 'a sooner query stays');
    // The restarted burst goes on (2 s, 4 s…); another expiry within QUERY_RESTART_GAP does not reset it.
    let q = queryStep(r.state, { type: 'tick' }, 2500).state;
    q = queryStep(q, { type: 'tick' }, 4500).state;
    t.same([q.nextAt, q.interval], [8500, 8000], 'backing off');
    t.same(queryStep(q, { type: 'restart', random: 0 }, 5000).state, q, 'a second restart within the gap');
    const idle = { ...q, nextAt: 500_000, interval: 256_000 }; // backed off since
    t.same(
      queryStep(idle, { type: 'restart', random: 0 }, 1000 + QUERY_RESTART_GAP).state,
      { ...idle, nextAt: 2000 + QUERY_RESTART_GAP, interval: 2000, restartedAt: 1000 + QUERY_RESTART_GAP },
      'after the gap, restarts again',
    );
  },
);
