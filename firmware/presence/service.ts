/**
 * The multicast-dns PresenceService: carries out the pure machines' effects (send, timers, emit).
 * Publishing (probe → announce → answer → goodbye) is in publisher.ts; this file owns the
 * lifecycle, the receive path and the browser (cache → People Near Me).
 */
import type { Clock } from '../core/clock.js';
import { PeerhubError, wrap } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { cacheDeadline, cacheStep, emptyCache, type CacheEffect, type CacheEvent } from './cache.js';
import {
  MDNS_PORT,
  REFRESH_KNOWN_ANSWER_LEFT,
  SERVICE_TYPE,
  TTL_HOST_S,
  TTL_SERVICE_S,
} from './constants.js';
import { buildPeers, relevant, showPeers, srvTargets, type RowMemo } from './peers.js';
import { KnownAnswerAssembler } from './assembler.js';
import { splitKnownAnswers } from './known-answers.js';
import { Publisher } from './publisher.js';
import { initialQueryState, queryStep, type QueryEvent } from './querier.js';
import { Timers, Wire, onLink, type TimerName } from './shell.js';
import type { Endpoint, MdnsTransport } from './transport.js';
import type {
  Announcement,
  Emitter,
  LostReason,
  NearbyPeer,
  PresenceEvents,
  PresenceService,
} from './types.js';
import { recordKey } from './records.js';
import {
  CLASS_IN,
  TYPE,
  decodeMessage,
  nameKey,
  type Message,
  type Question,
  type ResourceRecord,
} from './wire.js';

export interface MdnsPresenceDeps {
  clock: Clock;
  logger: Logger;
  bus: Emitter<PresenceEvents>;
  transport: MdnsTransport;
}

export interface MdnsPresenceInit {
  interface?: string;
  hostname?: string;
  ttlHost?: number;
  ttlService?: number;
  random?: () => number;
}

const BROWSE: Question = { name: SERVICE_TYPE, type: TYPE.PTR, klass: CLASS_IN, qu: false };
const isBrowse = (q: { name: string; type: number }): boolean =>
  q.type === TYPE.PTR && nameKey(q.name) === nameKey(SERVICE_TYPE);

/**
 * Which queries we send: the continuous browse query (§5.2, known answers with more than half their
 * TTL left, §7.1) and the cache-refresh query (known answers only if nearly fresh, so that every
 * record due soon is answered in the same round; see REFRESH_KNOWN_ANSWER_LEFT).
 */
type QueryKind = 'browse' | 'refresh';
const KNOWN_ANSWER_LEFT: Record<QueryKind, number> = { browse: 0.5, refresh: REFRESH_KNOWN_ANSWER_LEFT };

export class MdnsPresence implements PresenceService {
  readonly backend = 'multicast-dns' as const;
  private readonly log: Logger;
  private readonly wire: Wire;
  private readonly timers: Timers<TimerName>;
  private readonly assembler = new KnownAnswerAssembler();
  private readonly publisher: Publisher;
  private readonly random: () => number;
  private opening: Promise<void> | null = null;
  private running = false;
  private unsubscribe: (() => void) | null = null;
  private unwatch: (() => void) | null = null;
  private linked = true; // false while the interface has no address (link down, cable out)
  private cache = emptyCache();
  private query = initialQueryState();
  private table = new Map<string, NearbyPeer>();
  private readonly rows: RowMemo = new Map();
  private settling = false; // a settle() is due (see settleSoon)
  private peersDirty = false;
  private deadlineDirty = false;
  private readonly lostReasons = new Map<string, LostReason>();

  constructor(
    private readonly deps: MdnsPresenceDeps,
    init: MdnsPresenceInit = {},
  ) {
    this.log = deps.logger;
    this.random = init.random ?? Math.random;
    this.timers = new Timers(deps.clock);
    this.wire = new Wire(deps.transport, deps.clock, this.log);
    this.publisher = new Publisher({
      clock: deps.clock,
      log: this.log,
      bus: deps.bus,
      wire: this.wire,
      timers: this.timers,
      random: this.random,
      addresses: () => deps.transport.addresses().map((a) => a.address),
      hostname: init.hostname,
      ttlHost: init.ttlHost ?? TTL_HOST_S,
      ttlService: init.ttlService ?? TTL_SERVICE_S,
    });
  }

  start(): Promise<void> {
    this.opening ??= this.open();
    return this.opening;
  }

  private async open(): Promise<void> {
    try {
      await this.deps.transport.open();
    } catch (err) {
      this.opening = null;
      throw wrap('PH_ERR_PRESENCE_SOCKET', 'open mDNS socket', err);
    }
    this.running = true;
    this.unsubscribe = this.deps.transport.onMessage((buf, from) => this.receive(buf, from));
    this.unwatch = this.deps.transport.onAddressesChanged((a) => this.linkChanged(a.map((x) => x.address)));
    // Started before the network (no address yet): the first address is a link change like any other.
    this.linked = this.deps.transport.addresses().length > 0;
    if (this.linked) {
      this.stepQuery({ type: 'start', random: this.random() });
      this.publisher.linkUp();
    }
    this.log.info({ addresses: this.deps.transport.addresses() }, 'mDNS presence started');
  }

  async stop(): Promise<void> {
    if (!this.opening) return;
    await this.opening.catch(() => undefined);
    if (!this.running) return;
    this.publisher.goodbye();
    this.running = false;
    this.opening = null;
    this.timers.clear();
    this.assembler.clear();
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.unwatch?.();
    this.unwatch = null;
    this.cache = emptyCache();
    this.query = initialQueryState();
    this.table = new Map();
    this.rows.clear();
    this.peersDirty = this.deadlineDirty = false;
    await this.deps.transport.close();
    this.log.info({}, 'mDNS presence stopped');
  }

  announce(a: Announcement): void {
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) {
      throw new PeerhubError('PH_ERR_BAD_REQUEST', `invalid port ${a.port}`, { statusCode: 400 });
    }
    this.publisher.announce(a, this.running && this.linked);
  }

  async withdraw(): Promise<void> {
    this.publisher.withdraw();
  }

  names(): { instance: string | null; host: string } {
    return this.publisher.names();
  }

  peers(): NearbyPeer[] {
    return [...this.table.values()];
  }

  counters(): Record<string, number> {
    return { ...this.wire.counters, cacheEntries: this.cache.entries.size, peers: this.table.size };
  }

  /**
   * RFC 6762 §13: after a link change a responder probes and announces again, and a querier on a link
   * that may be another network asks again from the start. While the link is down nothing is sent; the
   * cache ages as it would for a silent LAN.
   */
  private linkChanged(addresses: string[]): void {
    if (!this.running) return;
    if (addresses.length === 0) {
      this.linked = false;
      this.log.warn({}, 'mDNS: no address on the interface (link down?): presence paused');
      this.publisher.suspend();
      this.stepQuery({ type: 'stop' });
      return;
    }
    this.linked = true;
    this.log.info({ addresses }, 'mDNS: link change: probing and announcing again (RFC 6762 §13)');
    this.stepQuery({ type: 'start', random: this.random() });
    this.publisher.linkUp();
  }

  // ---- receive ------------------------------------------------------------------------------

  private receive(buf: Buffer, from: Endpoint): void {
    if (!this.running) return;
    this.wire.count('packetsIn');
    if (!onLink(from.address, this.deps.transport.addresses())) {
      this.wire.count('offlink');
      this.wire.warnOnce(from.address, {}, 'mDNS packet from off-link source ignored');
      return;
    }
    if (this.wire.isEcho(buf, from)) return this.wire.count('looped');
    let msg: Message;
    try {
      msg = decodeMessage(buf);
    } catch (err) {
      this.wire.count('malformed');
      this.wire.warnOnce(
        from.address,
        { err: String(err), bytes: buf.length },
        'malformed mDNS packet dropped',
      );
      return;
    }
    const opcode = (msg.flags >> 11) & 0xf;
    const rcode = msg.flags & 0xf;
    if (opcode !== 0 || rcode !== 0) return this.wire.count('ignored'); // RFC 6762 §18.3, §18.11
    if (msg.response) this.guarded(from, () => this.onResponse(msg, from));
    else this.guarded(from, () => this.intake(msg, from));
  }

  private guarded(from: Endpoint, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.wire.count('errors');
      this.log.error({ err: String(err), source: from.address }, 'mDNS packet handling failed');
    }
  }

  /** §7.2: a query whose known answers span several packets is handled once they are all in. */
  private intake(msg: Message, from: Endpoint): void {
    if (from.port !== MDNS_PORT) return this.onQuery(msg, from); // legacy unicast: no continuations
    const r = this.assembler.offer(msg, from, this.deps.clock.now(), this.random);
    if (r.type === 'pass') return this.onQuery(msg, from);
    if (r.type === 'orphan') return this.wire.count('orphanKnownAnswers');
    if (r.type === 'merged') this.onQuery(r.query.message, r.query.from);
    else {
      this.wire.count('queriesHeld');
      for (const q of r.release) this.guarded(q.from, () => this.onQuery(q.message, q.from));
    }
    this.armAssembler();
  }

  private armAssembler(): void {
    this.timers.arm('assemble', this.assembler.nextDeadline(), () => {
      for (const q of this.assembler.due(this.deps.clock.now())) {
        this.guarded(q.from, () => this.onQuery(q.message, q.from));
      }
      this.armAssembler();
    });
  }

  private onQuery(msg: Message, from: Endpoint): void {
    this.publisher.onQuery(msg, from);
    if (from.port !== MDNS_PORT) return;
    this.stepCache({ type: 'query', message: msg, from: from.address });
    // §7.3: someone else asked our browse question and knows nothing we would not list ourselves.
    if (msg.authorities.length === 0 && msg.questions.some((q) => !q.qu && isBrowse(q))) {
      const ours = new Set(this.knownAnswers([BROWSE], 'browse').map(recordKey));
      if (msg.answers.filter((r) => isBrowse(r)).every((r) => ours.has(recordKey(r)))) {
        this.stepQuery({ type: 'asked' });
      }
    }
  }

  private onResponse(msg: Message, from: Endpoint): void {
    if (from.port !== MDNS_PORT) return this.wire.count('badPort'); // RFC 6762 §6
    const records = [...msg.answers, ...msg.additionals];
    this.publisher.onResponse(records);
    const own = this.publisher.ownNameKeys();
    const targets = srvTargets(this.cache, records);
    // Never our own records (nor the shared PTR naming our instance): a copy of them is our own echo
    // or a conflict, which the publisher handles; cached, it would be refreshed by nobody and removed.
    const ours = (rr: ResourceRecord): boolean =>
      own.has(nameKey(rr.name)) || (rr.data.kind === 'PTR' && own.has(nameKey(rr.data.target)));
    const keep = records.filter((rr) => !ours(rr) && relevant(rr, targets));
    if (keep.length > 0) this.stepCache({ type: 'records', records: keep, random: this.random });
  }

  // ---- browser --------------------------------------------------------------------------------

  private stepQuery(ev: QueryEvent): void {
    const { state, effects } = queryStep(this.query, ev, this.deps.clock.now());
    this.query = state;
    // §5.4: the first query after start-up asks for unicast answers (QU): a responder that multicast
    // its records lately answers us alone, and its 1-second multicast rate limit (§6) does not hold
    // back our answers when many hubs are talking at once; later queries are QM.
    for (const fx of effects) this.sendQuery([fx.index === 0 ? { ...BROWSE, qu: true } : BROWSE], 'browse');
    this.timers.arm('query', state.nextAt, () => this.stepQuery({ type: 'tick' }));
  }

  /** The §7.1 known-answer list for a query of this kind. */
  private knownAnswers(questions: Question[], kind: QueryKind): ResourceRecord[] {
    const now = this.deps.clock.now();
    const known: ResourceRecord[] = [];
    for (const e of this.cache.entries.values()) {
      if (e.removal) continue;
      const left = e.expiresAt - now;
      if (left <= e.ttlMs * KNOWN_ANSWER_LEFT[kind]) continue;
      if (!questions.some((q) => nameKey(q.name) === nameKey(e.rr.name))) continue;
      if (!questions.some((q) => q.type === e.rr.type || q.type === TYPE.ANY)) continue;
      known.push({ ...e.rr, flush: false, ttl: Math.floor(left / 1000) });
    }
    return known;
  }

  private sendQuery(questions: Question[], kind: QueryKind): void {
    const msg: Message = {
      id: 0,
      flags: 0,
      response: false,
      questions,
      answers: this.knownAnswers(questions, kind),
      authorities: [],
      additionals: [],
    };
    const packets = splitKnownAnswers(msg); // §7.2: every known answer listed, TC on all but the last
    if (!packets.every((p) => this.wire.send(p, null))) return;
    this.wire.count('queriesSent');
    if (kind === 'refresh' && questions.some(isBrowse)) {
      this.stepQuery({ type: 'asked' }); // the browse question just went out
      this.publisher.answerOwnQuery(msg); // others refresh our records in the same round
    }
  }

  /**
   * Only the service PTRs are re-queried (§5.2): the answer to the browse question carries each
   * instance's SRV, TXT and addresses as additional records (RFC 6763 §12.1), refreshing them too.
   */
  private readonly interested = (rr: ResourceRecord): boolean => rr.type === TYPE.PTR;

  private stepCache(ev: CacheEvent): void {
    const now = this.deps.clock.now();
    const { state, effects } = cacheStep(this.cache, ev, now, { owned: true }); // nothing keeps the old state
    const changed = state !== this.cache; // an unchanged cache keeps its deadline (most queries change nothing)
    this.cache = state;
    this.applyCacheEffects(effects);
    if (!changed && ev.type !== 'tick') return;
    this.deadlineDirty = true;
    this.settleSoon();
  }

  /**
   * The cache deadline and People Near Me are worked out once per burst of packets, not per packet:
   * each pass reads the whole cache, and a hub reading a backlog (100 hubs answering at once, or an
   * agent busy for a while) did it for every packet of it. Idle, the burst is one packet and this runs
   * at once after it (setImmediate), before any timer.
   */
  private settleSoon(): void {
    if (this.settling) return;
    this.settling = true;
    const settle = (): void => {
      this.settling = false;
      if (!this.running) return;
      try {
        if (this.deadlineDirty) {
          this.deadlineDirty = false;
          this.timers.arm('cache', cacheDeadline(this.cache, this.interested), () =>
            this.stepCache({ type: 'tick', interested: this.interested }),
          );
        }
        if (this.peersDirty) {
          this.peersDirty = false;
          this.refreshPeers();
        }
      } catch (err) {
        this.wire.count('errors');
        this.log.error({ err: String(err) }, 'presence table update failed');
      }
    };
    if (this.deps.clock.soon) this.deps.clock.soon(settle);
    else this.deps.clock.setTimer(0, settle);
  }

  private applyCacheEffects(effects: CacheEffect[]): void {
    const requery: Question[] = [];
    let changed = false;
    let vanished = false;
    for (const fx of effects) {
      if (fx.type === 'requery') requery.push(fx.question);
      else if (fx.type === 'query-suppressed') this.wire.count('queriesSuppressed');
      else changed = true;
      if (fx.type === 'goodbye' && fx.entry.rr.data.kind === 'PTR') {
        this.lostReasons.set(nameKey(fx.entry.rr.data.target), 'goodbye');
      }
      if (fx.type === 'removed' && fx.entry.rr.data.kind === 'PTR') {
        const reason: LostReason = fx.reason === 'flushed' ? 'expired' : fx.reason;
        if (reason === 'failure') {
          const { poof, receivedAt } = fx.entry;
          const now = this.deps.clock.now();
          this.log.debug(
            {
              target: fx.entry.rr.data.target,
              askedBy: poof?.queriers,
              firstAskedMsAgo: poof ? now - poof.firstAt : null,
              lastAnswerMsAgo: now - receivedAt,
            },
            'record unanswered: removed (RFC 6762 §10.5)',
          );
        }
        this.lostReasons.set(nameKey(fx.entry.rr.data.target), reason);
        // Only a TTL run out restarts the browse query (see QUERY_RESTART_GAP); not a goodbye, a POOF
        // removal or a flushed record (replaced by a newer one).
        if (fx.reason === 'expired') vanished = true;
      }
    }
    if (requery.length > 0) this.sendQuery(requery, 'refresh');
    if (vanished && this.running) this.stepQuery({ type: 'restart', random: this.random() });
    if (changed) {
      this.peersDirty = true;
      this.settleSoon();
    }
  }

  private refreshPeers(): void {
    const self = { instanceKey: this.publisher.instanceKey(), peerId: this.publisher.peerId() };
    const next = buildPeers(this.cache, self, this.table, this.deps.clock.now(), this.rows);
    this.table = showPeers(this.table, next, this.lostReasons, { log: this.log, bus: this.deps.bus });
  }
}
