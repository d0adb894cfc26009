import t from 'tap';
import {
  cacheDeadline,
  cacheStep,
  emptyCache,
  lookup,
  type CacheState,
} from '../../../firmware/presence/cache.js';
import { TYPE, type ResourceRecord } from '../../../firmware/presence/wire.js';
import { q, query, rr } from './fixtures/world.js';
import { decodeMessage } from '../../../firmware/presence/wire.js';

const always = () => true;
const feed = (s: CacheState, records: ResourceRecord[], now: number, random = () => 0) =>
  cacheStep(s, { type: 'records', records, random }, now);
const tick = (s: CacheState, now: number) => cacheStep(s, { type: 'tick', interested: always }, now);

t.test('re-query at 80/85/90/95 % of TTL (+0–2 %), then expiry', async (t) => {
  let s = feed(emptyCache(), [rr('h.local', { kind: 'A', address: '10.0.0.1' }, 100)], 0, () => 0.5).state;
  const requeries: number[] = [];
  let removedAt = -1;
  for (let now = 0; now <= 101_000; now += 100) {
    const r = tick(s, now);
    s = r.state;
    for (const fx of r.effects) {
      if (fx.type === 'requery') requeries.push(now);
      if (fx.type === 'removed') removedAt = now;
    }
  }
  t.same(requeries, [81_000, 86_000, 91_000, 96_000], '+1 % jitter at random 0.5');
  t.equal(removedAt, 100_000);
});

t.test('cache deadline points at the next event', async (t) => {
  const s = feed(emptyCache(), [rr('h.local', { kind: 'A', address: '10.0.0.1' }, 100)], 0).state;
  t.equal(cacheDeadline(s, always), 80_000);
  t.equal(
    cacheDeadline(s, () => false),
    100_000,
  );
});

t.test('goodbye: TTL 0 removes after one second with reason goodbye', async (t) => {
  const a = rr('h.local', { kind: 'A', address: '10.0.0.1' }, 120);
  let s = feed(emptyCache(), [a], 0).state;
  s = feed(s, [{ ...a, ttl: 0 }], 5000).state;
  t.equal(tick(s, 5999).effects.length, 0);
  const r = tick(s, 6000);
  t.same(
    r.effects.map((e) => e.type === 'removed' && e.reason),
    ['goodbye'],
  );
});

t.test('cache-flush: older members of the RRset expire in 1 s, fresh ones (< 1 s) are kept', async (t) => {
  const a1 = rr('h.local', { kind: 'A', address: '10.0.0.1' }, 120, true);
  const a2 = rr('h.local', { kind: 'A', address: '10.0.0.2' }, 120, true);
  const a3 = rr('h.local', { kind: 'A', address: '10.0.0.3' }, 120, true);
  let s = feed(emptyCache(), [a1], 0).state;
  s = feed(s, [a2], 5000).state; // flushes a1 (5 s old)
  s = feed(s, [a3], 5500).state; // a2 is 0.5 s old: kept
  t.same(
    lookup(s, 'h.local', TYPE.A).map((e) => e.rr.data),
    [a3.data, a2.data],
    'flushed record hidden',
  );
  const r = tick(s, 6000);
  t.same(
    r.effects.map((e) => e.type === 'removed' && e.reason),
    ['flushed'],
  );
  t.equal(r.state.entries.size, 2);
});

t.test(
  'POOF: three queries from distinct hosts, a second apart, without the record in their known answers → removed 10 s after the first',
  async (t) => {
    const srv = rr(
      'x._peerhub._tcp.local',
      { kind: 'SRV', priority: 0, weight: 0, port: 1, target: 'h.local' },
      120,
    );
    let s = feed(emptyCache(), [srv], 0).state;
    const qry = decodeMessage(query([q('x._peerhub._tcp.local', TYPE.SRV)]));
    const listed = decodeMessage(query([q('x._peerhub._tcp.local', TYPE.SRV)], [srv]));
    s = cacheStep(s, { type: 'query', message: listed, from: '10.0.0.7' }, 1000).state; // querier knows it: no answer expected
    s = cacheStep(s, { type: 'query', message: qry, from: '10.0.0.7' }, 2000).state;
    t.equal(tick(s, 30_000).effects.filter((e) => e.type === 'removed').length, 0, 'one query is not enough');
    const again = cacheStep(s, { type: 'query', message: qry, from: '10.0.0.7' }, 2500).state;
    t.equal(
      tick(again, 30_000).effects.filter((e) => e.type === 'removed' && e.reason === 'failure').length,
      0,
      'the same host asking twice is not two observations (it may own the record)',
    );
    s = cacheStep(s, { type: 'query', message: qry, from: '10.0.0.8' }, 3000).state;
    t.equal(tick(s, 30_000).effects.filter((e) => e.type === 'removed').length, 0, 'two are not enough');
    const quick = cacheStep(s, { type: 'query', message: qry, from: '10.0.0.9' }, 3500).state;
    t.equal(tick(quick, 30_000).effects.filter((e) => e.type === 'removed').length, 0, 'not a second apart');
    s = cacheStep(s, { type: 'query', message: qry, from: '10.0.0.9' }, 4000).state;
    t.equal(tick(s, 11_999).effects.filter((e) => e.type === 'removed').length, 0);
    t.same(
      tick(s, 12_000).effects.map((e) => e.type === 'removed' && e.reason),
      ['failure'],
    );
    /** The record freshly cached at 0, then `message` from three hosts: how many removals by 30 s. */
    const removedAfterThreeAskers = (message: typeof qry, first: number, second: number): number => {
      let c = feed(emptyCache(), [srv], 0).state;
      c = cacheStep(c, { type: 'query', message, from: '10.0.0.7' }, first).state;
      c = cacheStep(c, { type: 'query', message, from: '10.0.0.8' }, second).state;
      c = cacheStep(c, { type: 'query', message, from: '10.0.0.9' }, second + 1000).state;
      return tick(c, 30_000).effects.filter((e) => e.type === 'removed').length;
    };
    t.equal(removedAfterThreeAskers(qry, 2000, 3000), 1, 'the helper does remove it');
    // QU questions may be answered by unicast to the asker alone (§5.4): they are not observations
    const qu = decodeMessage(query([q('x._peerhub._tcp.local', TYPE.SRV, true)]));
    t.equal(removedAfterThreeAskers(qu, 2000, 3000), 0, 'QU questions do not count');
    // an answer in between cancels the observation
    const refreshed = feed(s, [srv], 5000).state;
    t.equal(tick(refreshed, 12_000).effects.filter((e) => e.type === 'removed').length, 0);
    // queries within 1 s of the record's last multicast expect no answer (the owner may not repeat it)
    t.equal(removedAfterThreeAskers(qry, 200, 900), 0, 'rate-limited owner not failed');
    // the last query counted leaves the owner a second to answer, even past the 10 s
    let late = feed(emptyCache(), [srv], 0).state;
    for (const [from, at] of [
      ['10.0.0.7', 2000],
      ['10.0.0.8', 7000],
      ['10.0.0.9', 11_800],
    ] as const)
      late = cacheStep(late, { type: 'query', message: qry, from }, at).state;
    t.equal(tick(late, 12_500).effects.filter((e) => e.type === 'removed').length, 0, 'answer time left');
    t.equal(tick(late, 12_800).effects.filter((e) => e.type === 'removed').length, 1, 'then removed');
  },
);

t.test("POOF: the owner's own query is not an observation (it does not answer itself)", async (t) => {
  const inst = 'x._peerhub._tcp.local';
  const records = [
    rr('_peerhub._tcp.local', { kind: 'PTR', target: inst }, 60),
    rr(inst, { kind: 'SRV', priority: 0, weight: 0, port: 1, target: 'H.local' }, 120),
    rr(inst, { kind: 'TXT', strings: [Buffer.from('v=1')] }, 60),
    rr('h.local', { kind: 'A', address: '10.0.0.7' }, 120),
  ];
  const browse = decodeMessage(
    query([q('_peerhub._tcp.local', TYPE.PTR), q(inst, TYPE.ANY), q('h.local', TYPE.A)]),
  );
  const failedAfter = (askers: string[]): string[] => {
    let s = feed(emptyCache(), records, 0).state;
    askers.forEach(
      (from, i) => (s = cacheStep(s, { type: 'query', message: browse, from }, 2000 + i * 1000).state),
    );
    return tick(s, 30_000)
      .effects.filter((e) => e.type === 'removed' && e.reason === 'failure')
      .map((e) => (e.type === 'removed' ? `${e.entry.rr.name}/${e.entry.rr.type}` : ''))
      .sort();
  };
  t.same(
    failedAfter(['10.0.0.7', '10.0.0.8', '10.0.0.9']),
    [],
    'owner (10.0.0.7, by its A record and SRV) + two other hosts',
  );
  t.same(
    failedAfter(['10.0.0.8', '10.0.0.9', '10.0.0.10']),
    ['_peerhub._tcp.local/12', 'h.local/1', 'x._peerhub._tcp.local/16', 'x._peerhub._tcp.local/33'],
    'three other hosts, nobody answered within 10 s: all four go',
  );
});

t.test('re-query: one query per question however many records are due; all count it (§7.3)', async (t) => {
  const ptr = (target: string) => rr('_peerhub._tcp.local', { kind: 'PTR', target }, 100);
  // Same arrival, different jitter: 80.0 % and 81.5 %.
  let s = feed(emptyCache(), [ptr('a._peerhub._tcp.local')], 0, () => 0).state;
  s = feed(s, [ptr('b._peerhub._tcp.local')], 0, () => 0.75).state;
  const r = tick(s, 80_000);
  t.same(
    r.effects.map((e) => e.type === 'requery' && e.question.name),
    ['_peerhub._tcp.local'],
    'one question',
  );
  t.ok(
    [...r.state.entries.values()].every((e) => e.requeried === 1),
    'b (due at 81.5 s) counts our query as its 80 % re-query',
  );
  t.equal(cacheDeadline(r.state, always), 85_000, 'next: the 85 % point');
});

t.test(
  'duplicate question suppression: another host asked it → our due re-query counts as sent',
  async (t) => {
    const ptrA = rr('_peerhub._tcp.local', { kind: 'PTR', target: 'a._peerhub._tcp.local' }, 100);
    const ptrB = rr('_peerhub._tcp.local', { kind: 'PTR', target: 'b._peerhub._tcp.local' }, 100);
    let s = feed(emptyCache(), [ptrA, ptrB], 0, () => 0.5).state; // due at 81 s
    const asked = (known: ResourceRecord[], qu = false) =>
      cacheStep(
        s,
        {
          type: 'query',
          message: decodeMessage(query([q('_peerhub._tcp.local', TYPE.PTR, qu)], known)),
          from: 'x',
        },
        79_000,
      );
    const far = cacheStep(
      s,
      { type: 'query', message: decodeMessage(query([q('_peerhub._tcp.local', TYPE.PTR)])), from: 'x' },
      70_000,
    );
    t.ok(
      [...far.state.entries.values()].every((e) => e.requeried === 0),
      '11 s early: not planned yet',
    );
    const r = asked([ptrA]);
    t.same(
      [...r.state.entries.values()].map((e) => [e.rr.data.kind === 'PTR' && e.rr.data.target, e.requeried]),
      [
        ['a._peerhub._tcp.local', 0], // listed as known: its owner will not answer, so we still ask
        ['b._peerhub._tcp.local', 1],
      ],
    );
    t.same(
      r.effects.map((e) => e.type),
      ['query-suppressed'],
    );
    t.ok(
      [...asked([], true).state.entries.values()].every((e) => e.requeried === 0),
      'a QU question is answered by unicast: no help',
    );
    s = r.state;
    t.same(
      tick(s, 81_000).effects.map((e) => e.type),
      ['requery'],
      'a still asks',
    );
  },
);

t.test('owned steps (map written in place) give the same effects and entries as copying steps', async (t) => {
  // A seeded mix of answers (some cache-flush, some goodbyes), queries from several hosts and ticks.
  let seed = 7;
  const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const names = ['a', 'b', 'c', 'd', 'e'];
  const recordOf = (n: string): ResourceRecord =>
    pick([
      rr(
        `${n}._peerhub._tcp.local`,
        { kind: 'SRV', priority: 0, weight: 0, port: 1, target: `${n}.local` },
        120,
        true,
      ),
      rr(`${n}.local`, { kind: 'A', address: `10.0.0.${names.indexOf(n) + 1}` }, pick([0, 2, 120]), true),
      rr('_peerhub._tcp.local', { kind: 'PTR', target: `${n}._peerhub._tcp.local` }, pick([0, 75, 4500])),
    ]);
  let copied = emptyCache();
  let owned = emptyCache();
  let now = 0;
  let compared = 0;
  let changes = 0;
  const problems: string[] = [];
  for (let i = 0; i < 3000; i++) {
    now += Math.floor(random() * 2000);
    const kind = pick(['records', 'query', 'tick'] as const);
    const r = random();
    const ev =
      kind === 'records'
        ? {
            type: 'records' as const,
            records: [recordOf(pick(names)), recordOf(pick(names))],
            random: () => r,
          }
        : kind === 'query'
          ? {
              type: 'query' as const,
              message: decodeMessage(query([q(`${pick(names)}._peerhub._tcp.local`, TYPE.SRV)])),
              from: `10.0.0.${1 + Math.floor(random() * 8)}`,
            }
          : { type: 'tick' as const, interested: always };
    const before = [...copied.entries.values()];
    const a = cacheStep(copied, ev, now);
    const b = cacheStep(owned, ev, now, { owned: true });
    if ([...copied.entries.values()].some((e, k) => e !== before[k]) || copied.entries.size !== before.length)
      problems.push(`step ${i}: the copying step changed the state it was given`);
    if (JSON.stringify(a.effects) !== JSON.stringify(b.effects)) problems.push(`step ${i}: effects differ`);
    if (JSON.stringify([...a.state.entries]) !== JSON.stringify([...b.state.entries]))
      problems.push(`step ${i}: entries differ`);
    if ((a.state === copied) !== (b.state === owned)) problems.push(`step ${i}: only one reports a change`);
    changes += Number(a.state !== copied);
    copied = a.state;
    owned = b.state;
    compared++;
  }
  t.same(problems.slice(0, 5), [], 'same effects, same entries, same change reports; the copy left alone');
  t.ok(changes > 1000, `the walk changed the cache often (${changes} of 3000 steps)`);
  t.equal(compared, 3000);
  t.ok(copied.entries.size > 0, 'the walk kept records in the cache');
});
