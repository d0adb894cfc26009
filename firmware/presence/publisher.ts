/**
 * Publishing our service instance: drives the prober and announcer machines, renames on conflict
 * (§8.1, §9), answers queries through the responder (§6, §7) and says goodbye (§10.1).
 */
import type { Clock, Timer } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { announceStep, initialAnnounceState, type AnnounceEvent } from './announcer.js';
import { MDNS_PORT, REFRESH_KNOWN_ANSWER_LEFT } from './constants.js';
import { buildTxt, defaultHostLabel, instanceLabel, nextHostLabel, nextInstanceLabel } from './names.js';
import { initialProbeState, probeStep, type ProbeEvent } from './prober.js';
import { buildRecords, hostName, instanceName, recordKey, tieBreak, type OwnRecord } from './records.js';
import { answerQuery, type Reply } from './responder.js';
import type { TimerName, Timers, Wire } from './shell.js';
import type { Endpoint } from './transport.js';
import type { Announcement, Emitter, PresenceEvents } from './types.js';
import { CLASS_IN, FLAG_AA, TYPE, nameKey, type Message, type ResourceRecord } from './wire.js';

export interface PublisherDeps {
  clock: Clock;
  log: Logger;
  bus: Emitter<PresenceEvents>;
  wire: Wire;
  timers: Timers<TimerName>;
  random: () => number;
  addresses: () => string[];
  hostname?: string;
  ttlHost: number;
  ttlService: number;
}

type Kind = 'instance' | 'host';
const sanitizeHost = (h: string): string =>
  h
    .toLowerCase()
    .replace(/\.local\.?$/, '')
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63) || 'peerhub';

export class Publisher {
  private ann: Announcement | null = null;
  private label: string | null = null;
  private host: string;
  private hostChosen: boolean;
  private records: OwnRecord[] = [];
  private published: OwnRecord[] = []; // what others may have cached from us
  private probe = initialProbeState();
  private announcer = initialAnnounceState();
  private readonly conflicted = new Set<Kind>();
  private readonly lastMulticast = new Map<string, number>();
  private pending: Array<{ reply: Reply; timer: Timer }> = [];
  private running = false;
  private announcedEmitted = false;

  constructor(private readonly d: PublisherDeps) {
    this.host = sanitizeHost(d.hostname ?? 'peerhub');
    this.hostChosen = d.hostname !== undefined;
  }

  // ---- API ------------------------------------------------------------------------------------

  announce(a: Announcement, running: boolean): void {
    buildTxt(a); // validates size before any state changes
    const prev = this.ann;
    this.ann = a;
    this.running = running;
    if (!this.hostChosen) {
      this.host = defaultHostLabel(a.peerId);
      this.hostChosen = true;
    }
    const label = instanceLabel(a.nickname);
    if (!prev || instanceLabel(prev.nickname) !== label || this.label === null) {
      this.label = label;
      this.rebuild();
      this.goodbyeStale();
      if (running) this.beginProbe();
      return;
    }
    this.rebuild();
    if (this.probe.phase === 'probed') this.stepAnnounce({ type: 'start' }); // §8.4: rdata changed
  }

  withdraw(): void {
    const instance = this.label;
    this.goodbye();
    this.ann = null;
    this.label = null;
    this.records = [];
    if (instance !== null) this.d.bus.emit('presence:withdrawn', { instance });
  }

  /** Goodbye for everything we published (TTL 0), and silence until the next probe. */
  goodbye(): void {
    if (this.published.length > 0) this.sendGoodbye(this.published);
    this.published = [];
    this.silence();
  }

  /**
   * Our link went down: nobody can hear a probe, an answer or a goodbye. Silence until linkUp();
   * what others cached from us stays `published` (it lives on in their caches until its TTL).
   */
  suspend(): void {
    this.running = false;
    this.silence();
  }

  /**
   * The link is up: at start, and (RFC 6762 §13) back up or with another address → probe and announce
   * (again). An A record of an address we no longer have is said goodbye to (the new one carries the
   * cache-flush bit too); at start nothing was published.
   */
  linkUp(): void {
    this.running = true;
    if (!this.ann || this.label === null) return;
    this.rebuild(); // the interface addresses are known only once the socket is open
    this.goodbyeStale();
    this.beginProbe();
  }

  private silence(): void {
    this.probe = probeStep(this.probe, { type: 'reset' }, this.d.clock.now()).state;
    this.announcer = initialAnnounceState();
    this.d.timers.arm('probe', null, () => undefined);
    this.d.timers.arm('announce', null, () => undefined);
    for (const p of this.pending) p.timer.cancel();
    this.pending = [];
  }

  names(): { instance: string | null; host: string } {
    return { instance: this.label, host: this.host };
  }
  instanceKey(): string | null {
    return this.label === null ? null : nameKey(instanceName(this.label));
  }
  peerId(): string | null {
    return this.ann?.peerId ?? null;
  }
  ownNameKeys(): Set<string> {
    const keys = new Set([nameKey(hostName(this.host))]);
    if (this.label !== null) keys.add(nameKey(instanceName(this.label)));
    return keys;
  }

  // ---- machines -------------------------------------------------------------------------------

  private rebuild(): void {
    if (!this.ann || this.label === null) return;
    this.records = buildRecords({
      instance: this.label,
      host: this.host,
      port: this.ann.port,
      txt: buildTxt(this.ann),
      addresses: this.d.addresses(),
      ttlHost: this.d.ttlHost,
      ttlService: this.d.ttlService,
    });
  }

  private beginProbe(): void {
    this.announcer = initialAnnounceState();
    this.d.timers.arm('announce', null, () => undefined);
    this.announcedEmitted = false;
    this.stepProbe({ type: 'start', random: this.d.random() });
  }

  private stepProbe(ev: ProbeEvent): void {
    const { state, effects } = probeStep(this.probe, ev, this.d.clock.now());
    this.probe = state;
    this.d.timers.arm('probe', state.nextAt, () => this.stepProbe({ type: 'tick' }));
    for (const fx of effects) {
      if (fx.type === 'send-probe') this.sendProbe();
      else if (fx.type === 'probed') this.stepAnnounce({ type: 'start' });
      else this.rename();
    }
  }

  private stepAnnounce(ev: AnnounceEvent): void {
    const { state, effects } = announceStep(this.announcer, ev, this.d.clock.now());
    this.announcer = state;
    this.d.timers.arm('announce', state.nextAt, () => this.stepAnnounce({ type: 'tick' }));
    for (const _ of effects) {
      this.multicast(this.records, [], 'announcementsSent');
      this.published = this.records;
      if (!this.announcedEmitted && this.label !== null) {
        this.announcedEmitted = true;
        this.d.log.info({ instance: this.label, host: this.host }, 'announced');
        this.d.bus.emit('presence:announced', { instance: this.label, host: this.host });
      }
    }
  }

  private rename(): void {
    for (const kind of this.conflicted) {
      const from = kind === 'instance' ? (this.label ?? '') : this.host;
      const to = kind === 'instance' ? nextInstanceLabel(from) : nextHostLabel(from);
      if (kind === 'instance') this.label = to;
      else this.host = to;
      this.d.log.warn({ kind, from, to }, 'name conflict: renamed');
      this.d.bus.emit('presence:renamed', { kind, from, to });
    }
    this.conflicted.clear();
    this.rebuild();
    this.goodbyeStale();
    this.beginProbe();
  }

  /** Goodbye for published records that the current set no longer contains (rename, nickname). */
  private goodbyeStale(): void {
    const now = new Set(this.records.map(recordKey));
    const stale = this.published.filter((r) => !now.has(recordKey(r)));
    if (stale.length > 0) this.sendGoodbye(stale);
    this.published = this.published.filter((r) => now.has(recordKey(r)));
  }

  // ---- packets --------------------------------------------------------------------------------

  private sendProbe(): void {
    if (this.label === null) return;
    const questions = [instanceName(this.label), hostName(this.host)].map((name) => ({
      name,
      type: TYPE.ANY,
      klass: CLASS_IN,
      qu: true,
    }));
    const authorities = this.records
      .filter((r) => r.unique)
      .map(({ unique: _u, ...r }) => ({ ...r, flush: false }));
    const msg: Message = {
      id: 0,
      flags: 0,
      response: false,
      questions,
      answers: [],
      authorities,
      additionals: [],
    };
    if (this.d.wire.send(msg, null)) this.d.wire.count('probesSent');
  }

  private multicast(
    answers: OwnRecord[],
    additionals: OwnRecord[],
    counter: 'announcementsSent' | null,
  ): void {
    const strip = ({ unique: _u, ...r }: OwnRecord): ResourceRecord => r;
    const msg: Message = {
      id: 0,
      flags: FLAG_AA,
      response: true,
      questions: [],
      answers: answers.map(strip),
      authorities: [],
      additionals: additionals.map(strip),
    };
    if (!this.d.wire.send(msg, null)) return;
    const now = this.d.clock.now();
    for (const r of [...answers, ...additionals]) this.lastMulticast.set(recordKey(r), now);
    if (counter) this.d.wire.count(counter);
  }

  private sendGoodbye(records: OwnRecord[]): void {
    this.multicast(
      records.map((r) => ({ ...r, ttl: 0 })),
      [],
      null,
    );
    for (const r of records) this.lastMulticast.delete(recordKey(r));
    this.d.wire.count('goodbyesSent');
  }

  onQuery(msg: Message, from: Endpoint): void {
    if (this.probe.phase === 'probing' && msg.authorities.length > 0 && this.label !== null) {
      for (const name of [instanceName(this.label), hostName(this.host)]) {
        const theirs = msg.authorities.filter((r) => nameKey(r.name) === nameKey(name));
        if (theirs.length === 0) continue;
        const ours = this.records.filter((r) => r.unique && nameKey(r.name) === nameKey(name));
        if (tieBreak(ours, theirs) < 0) {
          this.d.wire.count('tieBreaksLost');
          this.d.log.info({ name }, 'simultaneous probe: lost the tie-break, deferring');
          return this.stepProbe({ type: 'lost-tiebreak' });
        }
      }
    }
    if (this.probe.phase !== 'probed' || !this.running) return;
    const now = this.d.clock.now();
    const res = answerQuery(msg, from, {
      records: this.records,
      now,
      lastMulticast: this.lastMulticast,
      random: this.d.random,
    });
    this.d.wire.count('answersSuppressed', res.suppressed);
    this.d.wire.count('rateLimited', res.rateLimited);
    if (res.replies.length > 0) this.d.wire.count('queriesAnswered');
    for (const reply of res.replies) this.schedule(reply);
  }

  /**
   * Our own refresh query (§5.2) asks a question our records answer too: the hosts that cached them
   * in the same round need them again as much as we need theirs. Answered like anyone's query, but
   * only with records that others would not list as known answers in a refresh query of their own
   * (multicast more than 1 − REFRESH_KNOWN_ANSWER_LEFT of their TTL ago): those are due for the same
   * round, and answering them now keeps one round per TTL for the whole LAN.
   */
  answerOwnQuery(msg: Message): void {
    if (this.probe.phase !== 'probed' || !this.running) return;
    const now = this.d.clock.now();
    const records = this.records.filter((r) => {
      const last = this.lastMulticast.get(recordKey(r));
      return last === undefined || now - last >= r.ttl * 1000 * (1 - REFRESH_KNOWN_ANSWER_LEFT);
    });
    if (records.length === 0) return;
    const self = { address: '0.0.0.0', port: MDNS_PORT };
    const res = answerQuery(msg, self, {
      records,
      now,
      lastMulticast: this.lastMulticast,
      random: this.d.random,
    });
    for (const reply of res.replies) if (reply.dest === null) this.schedule(reply);
  }

  private schedule(reply: Reply): void {
    if (reply.dest === null) {
      // Aggregate: an answer already waiting in a pending multicast reply is not sent twice.
      const waiting = new Set(
        this.pending
          .filter((p) => p.reply.dest === null)
          .flatMap((p) => p.reply.message.answers.map(recordKey)),
      );
      const answers = reply.message.answers.filter((a) => !waiting.has(recordKey(a)));
      if (answers.length === 0) return;
      reply = { ...reply, message: { ...reply.message, answers } };
    }
    if (reply.delay === 0) return this.sendReply(reply);
    const entry = {
      reply,
      timer: this.d.timers.later(reply.delay, () => {
        this.pending = this.pending.filter((p) => p !== entry);
        this.sendReply(entry.reply);
      }),
    };
    this.pending.push(entry);
  }

  private sendReply(reply: Reply): void {
    if (this.probe.phase !== 'probed') return;
    const current = new Set(this.records.map(recordKey));
    const m = reply.message;
    const answers = m.answers.filter((r) => current.has(recordKey(r)));
    if (answers.length === 0) return;
    const message = { ...m, answers, additionals: m.additionals.filter((r) => current.has(recordKey(r))) };
    if (!this.d.wire.send(message, reply.dest)) return;
    this.d.wire.count('answersSent', answers.length);
    if (reply.dest && reply.dest.port !== MDNS_PORT) this.d.wire.count('legacyAnswered');
    if (reply.dest === null) {
      const now = this.d.clock.now();
      for (const r of [...answers, ...message.additionals]) this.lastMulticast.set(recordKey(r), now);
    }
  }

  onResponse(records: ResourceRecord[]): void {
    this.suppressDuplicates(records);
    if (this.label === null || this.probe.phase === 'idle') return;
    const names: Array<[Kind, string]> = [
      ['instance', nameKey(instanceName(this.label))],
      ['host', nameKey(hostName(this.host))],
    ];
    const probing = this.probe.phase === 'probing';
    let ours: Set<string> | null = null; // built only when a record carries one of our names
    for (const rr of records) {
      if (rr.ttl === 0) continue;
      const kind = names.find(([, k]) => k === nameKey(rr.name))?.[0];
      if (!kind) continue;
      ours ??= new Set(this.records.map(recordKey));
      if (ours.has(recordKey(rr))) continue;
      if (!probing && !this.records.some((r) => r.type === rr.type && nameKey(r.name) === nameKey(rr.name)))
        continue;
      this.conflicted.add(kind);
    }
    if (this.conflicted.size === 0) return;
    this.d.wire.count('conflicts');
    if (probing) return this.stepProbe({ type: 'conflict' });
    // §9: a conflict with an announced record → back to probing; a probe conflict then renames.
    this.d.log.warn({ kinds: [...this.conflicted] }, 'conflict with an announced record: re-probing');
    this.conflicted.clear();
    this.beginProbe();
  }

  /** §7.4: another responder multicast an answer we were about to give → drop it from ours. */
  private suppressDuplicates(records: ResourceRecord[]): void {
    if (this.pending.length === 0) return;
    const seen = new Map(records.map((r) => [recordKey(r), r.ttl]));
    for (const p of [...this.pending]) {
      if (p.reply.dest !== null) continue;
      const answers = p.reply.message.answers.filter((a) => !((seen.get(recordKey(a)) ?? -1) >= a.ttl / 2));
      this.d.wire.count('duplicatesSuppressed', p.reply.message.answers.length - answers.length);
      if (answers.length === 0) {
        p.timer.cancel();
        this.pending = this.pending.filter((x) => x !== p);
      } else p.reply = { ...p.reply, message: { ...p.reply.message, answers } };
    }
  }
}
