/**
 * The record cache (RFC 6762 §5.2, §10) as a pure state machine with injected time:
 * TTL expiry, cache-flush (1 s rule), goodbye (TTL 0 → 1 s), re-query at 80/85/90/95 % (+0–2 %)
 * with duplicate question suppression (§7.3: one query per question and round, whoever asks it)
 * and passive observation of failures (POOF, §10.5).
 */
import {
  CACHE_MAX_ENTRIES,
  DUPLICATE_QUERY_WINDOW,
  FLUSH_GRACE,
  GOODBYE_EXPIRY,
  MULTICAST_MIN_INTERVAL,
  POOF_ANSWER_TIME,
  POOF_QUERIES,
  POOF_SPACING,
  POOF_TIMEOUT,
  REQUERY_FRACTIONS,
  REQUERY_JITTER,
} from './constants.js';
import { answersQuestion, recordKey, rrsetKey } from './records.js';
import type { LostReason } from './types.js';
import { nameKey, type Message, type Question, type ResourceRecord } from './wire.js';

export type RemovalReason = LostReason | 'flushed';

export interface CacheEntry {
  rr: ResourceRecord;
  key: string;
  setKey: string;
  nameKey: string; // of rr.name
  receivedAt: number;
  expiresAt: number;
  ttlMs: number; // as received (before any goodbye/flush shortening)
  requeryAt: number[]; // absolute times, jitter included
  requeried: number; // how many of requeryAt have been used
  removal: RemovalReason | null; // set when scheduled early
  poof: { count: number; firstAt: number; lastAt: number; queriers: string[] } | null; // queriers: distinct sources
}

export interface CacheState {
  entries: ReadonlyMap<string, CacheEntry>;
}

export type CacheEvent =
  | { type: 'records'; records: ResourceRecord[]; random: () => number }
  | { type: 'query'; message: Message; from?: string }
  | { type: 'tick'; interested: (rr: ResourceRecord) => boolean };

export type CacheEffect =
  | { type: 'added'; entry: CacheEntry }
  | { type: 'refreshed'; entry: CacheEntry }
  | { type: 'goodbye'; entry: CacheEntry } // TTL 0 seen: kept 1 s (RFC 6762 §10.1), but announced as leaving
  | { type: 'removed'; entry: CacheEntry; reason: RemovalReason }
  | { type: 'requery'; question: Question } // one per question and tick, however many records ask it
  | { type: 'query-suppressed'; question: Question }; // §7.3: another host asked it for us

export const emptyCache = (): CacheState => ({ entries: new Map() });

function fresh(rr: ResourceRecord, now: number, random: () => number, key = recordKey(rr)): CacheEntry {
  const ttlMs = rr.ttl * 1000;
  return {
    rr,
    key,
    setKey: rrsetKey(rr),
    nameKey: nameKey(rr.name),
    receivedAt: now,
    expiresAt: now + ttlMs,
    ttlMs,
    requeryAt: REQUERY_FRACTIONS.map((f) => now + ttlMs * (f + random() * REQUERY_JITTER)),
    requeried: 0,
    removal: null,
    poof: null,
  };
}

const poofDeadline = (e: CacheEntry): number =>
  e.poof && e.poof.count >= POOF_QUERIES
    ? Math.max(e.poof.firstAt + POOF_TIMEOUT, e.poof.lastAt + POOF_ANSWER_TIME)
    : Infinity;

const questionKey = (q: Question): string => `${q.name.toLowerCase()}|${q.type}|${q.klass}`;

/**
 * §7.3: a question just asked on the link (by another host, or by us) counts as our own re-query for
 * every entry it would refresh: re-query points due within the window are marked as sent.
 * Returns the entry changed, or null.
 */
function markAsked(entry: CacheEntry, now: number): CacheEntry | null {
  const horizon = now + entry.ttlMs * DUPLICATE_QUERY_WINDOW;
  let n = entry.requeried;
  while (n < entry.requeryAt.length && (entry.requeryAt[n] as number) <= horizon) n++;
  return n > entry.requeried ? { ...entry, requeried: n } : null;
}

export interface CacheStepOptions {
  /**
   * The caller hands `s` over and never reads it again (the agent's shell): the step writes its map in
   * place instead of copying it first. A 100-hub LAN sends a hub ~30 responses a second while it
   * starts; copying a 500-entry map for each was a third of the cache's CPU and most of its garbage.
   */
  owned?: boolean;
}

export function cacheStep(
  s: CacheState,
  ev: CacheEvent,
  now: number,
  opts: CacheStepOptions = {},
): { state: CacheState; effects: CacheEffect[] } {
  // Copied on first write (unless owned): most queries and ticks change nothing, and then the state is
  // returned as is; a state that changed is always a new object, whether its map was copied or not.
  let copy: Map<string, CacheEntry> | null = null;
  const write = (): Map<string, CacheEntry> =>
    (copy ??= opts.owned ? (s.entries as Map<string, CacheEntry>) : new Map(s.entries));
  const effects: CacheEffect[] = [];
  switch (ev.type) {
    case 'records': {
      const entries = write();
      // Cache-flush (§10.2): older members of a flushed RRset that this packet does not carry go in 1 s.
      // One pass over the cache for the whole packet (an answer carries three flushed sets).
      const keys = ev.records.map(recordKey);
      const flushSets = new Set<string>();
      const carried = new Set<string>();
      ev.records.forEach((rr, i) => {
        if (rr.ttl === 0) return;
        carried.add(keys[i] as string);
        if (rr.flush) flushSets.add(rrsetKey(rr));
      });
      if (flushSets.size > 0) {
        for (const e of entries.values()) {
          if (!flushSets.has(e.setKey) || carried.has(e.key) || now - e.receivedAt < FLUSH_GRACE) continue;
          if (e.expiresAt > now + FLUSH_GRACE) {
            entries.set(e.key, { ...e, expiresAt: now + FLUSH_GRACE, removal: 'flushed' });
          }
        }
      }
      for (const [i, rr] of ev.records.entries()) {
        const key = keys[i] as string;
        const old = entries.get(key);
        if (rr.ttl === 0) {
          if (old && old.expiresAt > now + GOODBYE_EXPIRY) {
            const entry: CacheEntry = { ...old, expiresAt: now + GOODBYE_EXPIRY, removal: 'goodbye' };
            entries.set(key, entry);
            effects.push({ type: 'goodbye', entry });
          }
          continue;
        }
        const entry = fresh(rr, now, ev.random, key);
        entries.set(key, entry);
        effects.push({ type: old ? 'refreshed' : 'added', entry });
      }
      while (entries.size > CACHE_MAX_ENTRIES) {
        const victim = [...entries.values()].reduce((a, b) => (b.expiresAt < a.expiresAt ? b : a));
        entries.delete(victim.key);
        effects.push({ type: 'removed', entry: victim, reason: 'expired' });
      }
      break;
    }
    case 'query': {
      if (ev.message.response || ev.message.authorities.length > 0) break; // probes are not queries
      // A QU question may be answered by unicast to the asker alone: only QM questions count, for
      // suppression (§7.3) and for POOF (§10.5). Only entries named by one of them are looked at (a
      // full cache is 2,048 entries: every query used to test each against every question).
      const qm = ev.message.questions.filter((q) => !q.qu);
      if (qm.length === 0) break;
      const names = new Set(qm.map((q) => nameKey(q.name)));
      const known = new Set(ev.message.answers.map(recordKey));
      const suppressed = new Map<string, Question>();
      let owned: Set<string> | null = null;
      for (const e of s.entries.values()) {
        if (known.has(e.key) || e.removal || !names.has(e.nameKey)) continue;
        // §7.3: a QM question whose answers will refresh this entry is as good as our own re-query.
        const asked = qm.find((q) => answersQuestion(e.rr, q));
        if (!asked) continue;
        const marked = markAsked(e, now);
        if (marked) {
          write().set(e.key, marked);
          suppressed.set(questionKey(asked), asked);
        }
        // The owner may not multicast a record again within 1 s (RFC 6762 §6): no answer is expected.
        if (now - e.receivedAt < MULTICAST_MIN_INTERVAL) continue;
        // Only queries from distinct hosts count (as Avahi does), and not the owner's own: a host never
        // lists its own records as known answers, and does not answer its own query (§10.5 waits for
        // an answer that is expected).
        const from = ev.from ?? '';
        owned ??= ownedBy(s, from);
        if (owned.has(e.nameKey) || (e.rr.data.kind === 'PTR' && owned.has(nameKey(e.rr.data.target))))
          continue;
        const fresh = !e.poof || now - e.poof.firstAt > POOF_TIMEOUT;
        if (!fresh && (e.poof?.queriers.includes(from) || now - (e.poof?.lastAt ?? 0) < POOF_SPACING))
          continue;
        const poof = fresh
          ? { count: 1, firstAt: now, lastAt: now, queriers: [from] }
          : {
              count: (e.poof?.count ?? 0) + 1,
              firstAt: e.poof?.firstAt ?? now,
              lastAt: now,
              queriers: [...(e.poof?.queriers ?? []), from],
            };
        const entries = write();
        entries.set(e.key, { ...(entries.get(e.key) as CacheEntry), poof });
      }
      for (const question of suppressed.values()) effects.push({ type: 'query-suppressed', question });
      break;
    }
    case 'tick': {
      const asked = new Map<string, Question>();
      for (const e of s.entries.values()) {
        if (now >= e.expiresAt || now >= poofDeadline(e)) {
          write().delete(e.key);
          const reason = now >= e.expiresAt ? (e.removal ?? 'expired') : 'failure';
          effects.push({ type: 'removed', entry: e, reason });
          continue;
        }
        if (e.poof && e.poof.count < POOF_QUERIES && now - e.poof.firstAt > POOF_TIMEOUT) {
          write().set(e.key, { ...e, poof: null });
        }
        if (e.removal || !ev.interested(e.rr)) continue;
        const next = e.requeryAt[e.requeried];
        if (next === undefined || now < next) continue;
        const question: Question = { name: e.rr.name, type: e.rr.type, klass: e.rr.klass, qu: false };
        if (!asked.has(questionKey(question))) asked.set(questionKey(question), question);
      }
      // Our own query is asked once per question; every entry it refreshes counts it as its re-query.
      if (asked.size === 0) break;
      const entries = write();
      for (const e of entries.values()) {
        if (e.removal || !ev.interested(e.rr)) continue;
        if (![...asked.values()].some((q) => answersQuestion(e.rr, q))) continue;
        const marked = markAsked(e, now);
        if (marked) entries.set(e.key, marked);
      }
      for (const question of asked.values()) effects.push({ type: 'requery', question });
      break;
    }
  }
  return { state: copy ? { entries: copy } : s, effects };
}

/**
 * The names (keys) whose records `address` owns by what the cache says: hosts with that address, and
 * the instances whose SRV points at one of them. Empty for an unknown or missing address.
 */
function ownedBy(s: CacheState, address: string): Set<string> {
  const owned = new Set<string>();
  if (!address) return owned;
  for (const e of s.entries.values()) {
    if ((e.rr.data.kind === 'A' || e.rr.data.kind === 'AAAA') && e.rr.data.address === address)
      owned.add(e.nameKey);
  }
  if (owned.size === 0) return owned;
  for (const e of s.entries.values()) {
    if (e.rr.data.kind === 'SRV' && owned.has(nameKey(e.rr.data.target))) owned.add(e.nameKey);
  }
  return owned;
}

/** Earliest time the cache needs a tick (expiry, POOF deadline, next re-query). */
export function cacheDeadline(s: CacheState, interested: (rr: ResourceRecord) => boolean): number | null {
  let at = Infinity;
  for (const e of s.entries.values()) {
    at = Math.min(at, e.expiresAt, poofDeadline(e));
    if (e.poof) at = Math.min(at, e.poof.firstAt + POOF_TIMEOUT + 1);
    const next = e.requeryAt[e.requeried];
    if (!e.removal && next !== undefined && interested(e.rr)) at = Math.min(at, next);
  }
  return Number.isFinite(at) ? Math.ceil(at) : null;
}

/** Lookups by name/type over one pass of the cache (flushed records excluded), newest first. */
export type CacheIndex = (name: string, type: number) => CacheEntry[];

export function indexCache(s: CacheState): CacheIndex {
  const sets = new Map<string, CacheEntry[]>();
  for (const e of s.entries.values()) {
    if (e.removal === 'flushed') continue;
    const list = sets.get(e.setKey);
    if (list) list.push(e);
    else sets.set(e.setKey, [e]);
  }
  for (const list of sets.values()) if (list.length > 1) list.sort((a, b) => b.receivedAt - a.receivedAt);
  return (name, type) => sets.get(rrsetKey({ name, type, klass: 1 })) ?? [];
}

/** Records of one name/type (flushed ones excluded; goodbyes stay until removed), newest first. */
export function lookup(s: CacheState, name: string, type: number): CacheEntry[] {
  return indexCache(s)(name, type);
}
