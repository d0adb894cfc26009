/** People Near Me: NearbyPeer rows derived from the cache (pure), and the found/changed/lost diff. */
import { indexCache, type CacheEntry, type CacheState } from './cache.js';
import { SERVICE_TYPE } from './constants.js';
import { nicknameOf, parseTxt } from './names.js';
import type { Logger } from '../core/logger.js';
import type { Emitter, LostReason, NearbyPeer, PresenceEvents } from './types.js';
import { TYPE, nameKey, splitName, type ResourceRecord } from './wire.js';

export interface Self {
  instanceKey: string | null; // nameKey of our instance name
  peerId: string | null;
}

const SUFFIX = '.' + nameKey(SERVICE_TYPE);

/** Records the browser keeps: service PTRs, instance SRV/TXT, addresses of SRV targets. */
export function relevant(rr: ResourceRecord, srvTargets: { has(nameKey: string): boolean }): boolean {
  const n = nameKey(rr.name);
  if (rr.type === TYPE.PTR) return n === nameKey(SERVICE_TYPE);
  if (rr.type === TYPE.SRV || rr.type === TYPE.TXT) return n.endsWith(SUFFIX);
  if (rr.type === TYPE.A || rr.type === TYPE.AAAA) return srvTargets.has(n);
  return false;
}

/**
 * The SRV targets (name keys) of a packet's records and of the cache: an answer carries its SRV and
 * the target's addresses together, so the cache is only scanned for an address that came alone.
 */
export function srvTargets(cache: CacheState, records: ResourceRecord[]): { has(nameKey: string): boolean } {
  const inPacket = new Set<string>();
  for (const rr of records) if (rr.data.kind === 'SRV') inPacket.add(nameKey(rr.data.target));
  let cached: Set<string> | null = null;
  return {
    has(k) {
      if (inPacket.has(k)) return true;
      if (!cached) {
        cached = new Set();
        for (const e of cache.entries.values())
          if (e.rr.data.kind === 'SRV') cached.add(nameKey(e.rr.data.target));
      }
      return cached.has(k);
    },
  };
}

/**
 * The records each row was built from, by identity: a cached record object changes only when the record
 * is received again, so a row whose records are the same objects is the same row. Rebuilding every row
 * (TXT parsed again) for every packet cost a 100-hub fleet a third of its CPU.
 */
export type RowMemo = Map<string, { sources: readonly (ResourceRecord | undefined)[]; row: NearbyPeer }>;

const sameSources = (a: readonly unknown[], b: readonly unknown[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export function buildPeers(
  cache: CacheState,
  self: Self,
  prev: ReadonlyMap<string, NearbyPeer>,
  now: number,
  memo: RowMemo = new Map(),
): Map<string, NearbyPeer> {
  const out = new Map<string, NearbyPeer>();
  const used: RowMemo = new Map();
  const lookup = indexCache(cache); // one pass, not one scan per record looked up
  for (const ptr of lookup(SERVICE_TYPE, TYPE.PTR)) {
    // A goodbye takes the peer off the table at once; the record itself stays cached for 1 s
    // (RFC 6762 §10.1), and a re-announcement within that second brings the peer back.
    if (ptr.rr.data.kind !== 'PTR' || ptr.removal === 'goodbye') continue;
    const target = ptr.rr.data.target;
    const key = nameKey(target);
    if (!key.endsWith(SUFFIX) || key === self.instanceKey || out.has(key)) continue;
    const srv = lookup(target, TYPE.SRV)[0];
    const txtEntry = lookup(target, TYPE.TXT)[0];
    const addresses: CacheEntry[] =
      srv?.rr.data.kind === 'SRV'
        ? [...lookup(srv.rr.data.target, TYPE.A), ...lookup(srv.rr.data.target, TYPE.AAAA)]
        : [];
    const sources = [ptr.rr, srv?.rr, txtEntry?.rr, ...addresses.map((a) => a.rr)];
    const known = memo.get(key);
    // (A remembered row carrying our own id — who we are changed — is built, and skipped, below.)
    if (
      known &&
      sameSources(known.sources, sources) &&
      (known.row.id === null || known.row.id !== self.peerId)
    ) {
      used.set(key, known);
      out.set(key, known.row);
      continue;
    }
    const labels = splitName(target);
    if (labels.length !== 4) continue; // <instance>._peerhub._tcp.local
    const instance = labels[0] as string;
    const parsed = parseTxt(txtEntry?.rr.data.kind === 'TXT' ? txtEntry.rr.data.strings : []);
    if (parsed.id !== null && parsed.id === self.peerId) continue;
    let host: string | null = null;
    let port: number | null = null;
    const endpoints: string[] = [];
    if (srv?.rr.data.kind === 'SRV') {
      host = srv.rr.data.target;
      port = srv.rr.data.port;
      for (const a of addresses) {
        if (a.rr.data.kind === 'A') endpoints.push(`${a.rr.data.address}:${port}`);
        if (a.rr.data.kind === 'AAAA') endpoints.push(`[${a.rr.data.address}]:${port}`);
      }
    }
    const seen = [ptr, srv, txtEntry].map((e) => e?.receivedAt ?? 0);
    const row: NearbyPeer = {
      instance,
      id: parsed.id,
      nickname: nicknameOf(instance),
      status: parsed.status,
      seq: parsed.seq,
      host,
      port,
      endpoints: [...new Set(endpoints)].sort(),
      wellFormed: parsed.wellFormed,
      txt: parsed.txt,
      firstSeen: prev.get(key)?.firstSeen ?? now,
      lastSeen: Math.max(...seen),
    };
    used.set(key, { sources, row });
    out.set(key, row);
  }
  memo.clear();
  for (const [k, v] of used) memo.set(k, v);
  return out;
}

export type PeerEvent = {
  [K in 'peer:found' | 'peer:changed' | 'peer:lost']: { type: K; data: PresenceEvents[K] };
}['peer:found' | 'peer:changed' | 'peer:lost'];

const differs = (a: NearbyPeer, b: NearbyPeer): boolean =>
  a.status !== b.status ||
  a.seq !== b.seq ||
  a.nickname !== b.nickname ||
  a.instance !== b.instance ||
  a.wellFormed !== b.wellFormed ||
  a.id !== b.id ||
  a.host !== b.host ||
  a.port !== b.port ||
  a.endpoints.join() !== b.endpoints.join();

/** Events between two tables. A lost + found pair with the same wellFormed id is one change (rename). */
export function diffPeers(
  prev: ReadonlyMap<string, NearbyPeer>,
  next: ReadonlyMap<string, NearbyPeer>,
  reasons: ReadonlyMap<string, LostReason>,
): PeerEvent[] {
  const events: PeerEvent[] = [];
  const lost = [...prev].filter(([k]) => !next.has(k));
  const found = [...next].filter(([k]) => !prev.has(k));
  const renamed = new Set<string>();
  for (const [, p] of found) {
    const old = p.wellFormed ? lost.find(([, o]) => o.wellFormed && o.id === p.id) : undefined;
    if (old) {
      renamed.add(old[0]);
      events.push({ type: 'peer:changed', data: { ...p, firstSeen: old[1].firstSeen } });
    } else events.push({ type: 'peer:found', data: p });
  }
  for (const [k, p] of next) {
    const old = prev.get(k);
    if (old && differs(old, p)) events.push({ type: 'peer:changed', data: p });
  }
  for (const [k, p] of lost) {
    if (renamed.has(k)) continue;
    events.push({ type: 'peer:lost', data: { peer: p, reason: reasons.get(k) ?? 'expired' } });
  }
  return events;
}

/**
 * Both backends' last step: tell the bus what changed between the table shown and `next` (a loss is
 * logged), forget the loss reasons used, and return `next` as the table now shown.
 */
export function showPeers(
  prev: ReadonlyMap<string, NearbyPeer>,
  next: Map<string, NearbyPeer>,
  reasons: Map<string, LostReason>,
  deps: { log: Logger; bus: Emitter<PresenceEvents> },
): Map<string, NearbyPeer> {
  const events = diffPeers(prev, next, reasons);
  reasons.clear();
  for (const ev of events) {
    deps.bus.emit(ev.type, ev.data as never); // the event first, the journal line after it
    if (ev.type === 'peer:lost')
      deps.log.info({ instance: ev.data.peer.instance, reason: ev.data.reason }, 'peer lost');
  }
  return next;
}
