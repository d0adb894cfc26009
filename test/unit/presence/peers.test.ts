import t from 'tap';
import { cacheStep, emptyCache, type CacheEvent, type CacheState } from '../../../firmware/presence/cache.js';
import { buildPeers, touchedBy } from '../../../firmware/presence/peers.js';
import type { NearbyPeer } from '../../../firmware/presence/types.js';
import { decodeMessage, TYPE, type ResourceRecord } from '../../../firmware/presence/wire.js';
import { q, query, rr, seeded } from './fixtures/world.js';

const sorted = (m: ReadonlyMap<string, NearbyPeer>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));

t.test('the table rebuilt for the touched names equals the table built whole, step after step', async (t) => {
  const random = seeded(2026);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const instances = ['Kitchen', 'Office', 'Garage', 'Attic', 'Self'].map((n) => `${n}._peerhub._tcp.local`);
  const hosts = ['h0.local', 'H1.local', 'h2.local'];
  const self = { instanceKey: 'self._peerhub._tcp.local', peerId: 'SELFSELF-AAAA' };
  const ids = ['AAAAAAA-BBBBBBB', 'CCCCCCC-DDDDDDD', 'SELFSELF-AAAA', 'not an id'];
  const ttl = () => pick([0, 1, 5, 60, 120]); // 0: goodbye
  const record = (): ResourceRecord => {
    const inst = pick(instances);
    switch (pick(['ptr', 'srv', 'txt', 'a', 'aaaa'] as const)) {
      case 'ptr':
        return rr('_peerhub._tcp.local', { kind: 'PTR', target: inst }, ttl());
      case 'srv':
        return rr(
          inst,
          { kind: 'SRV', priority: 0, weight: 0, port: pick([7443, 7444]), target: pick(hosts) },
          ttl(),
          random() < 0.8,
        );
      case 'txt': {
        const strings = [
          `id=${pick(ids)}`,
          `st=${pick(['Online', 'Away', 'Busy'])}`,
          `seq=${Math.floor(random() * 5)}`,
        ];
        return rr(inst, { kind: 'TXT', strings: strings.map((s) => Buffer.from(s)) }, ttl(), random() < 0.8);
      }
      case 'a':
        return rr(
          pick(hosts),
          { kind: 'A', address: `10.77.0.${1 + Math.floor(random() * 3)}` },
          ttl(),
          random() < 0.8,
        );
      case 'aaaa':
        return rr(
          pick(hosts),
          { kind: 'AAAA', address: `fd00::${1 + Math.floor(random() * 3)}` },
          ttl(),
          random() < 0.8,
        );
    }
  };
  let cache: CacheState = emptyCache();
  let table = new Map<string, NearbyPeer>();
  let now = 0;
  let rowsSeen = 0;
  let partial = 0;
  let firstMismatch: unknown = null;
  for (let step = 0; step < 3000; step++) {
    now += Math.floor(random() * 3000);
    const kind = random();
    const ev: CacheEvent =
      kind < 0.6
        ? { type: 'records', records: Array.from({ length: 1 + Math.floor(random() * 4) }, record), random }
        : kind < 0.75
          ? {
              type: 'query',
              message: decodeMessage(
                query([q(pick(['_peerhub._tcp.local', ...instances]), pick([TYPE.PTR, TYPE.SRV, TYPE.ANY]))]),
              ),
              from: pick(['10.77.0.1', '10.77.0.2', '10.77.0.3']),
            }
          : { type: 'tick', interested: (r) => r.type === TYPE.PTR };
    const r = cacheStep(cache, ev, now);
    cache = r.state;
    const touched = touchedBy(r.effects);
    const incremental = buildPeers(cache, self, table, now, touched);
    const whole = buildPeers(cache, self, table, now);
    if (touched.size > 0 && touched.size < 4) partial++;
    if (firstMismatch === null && JSON.stringify(sorted(incremental)) !== JSON.stringify(sorted(whole))) {
      firstMismatch = { step, ev: ev.type, incremental: sorted(incremental), whole: sorted(whole) };
    }
    table = incremental;
    rowsSeen += table.size;
  }
  t.ok(
    rowsSeen > 1000 && partial > 500,
    `the walk built real tables (${rowsSeen} rows, ${partial} partial rebuilds)`,
  );
});
