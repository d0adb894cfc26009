/**
 * The I/O shell's plumbing: timers by name, counters, sending with echo memory, the on-link check
 * and warn-once. The mechanisms themselves are pure (prober, announcer, responder, cache, querier).
 */
import type { Clock, Timer } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { ECHO_KEEP, ECHO_WINDOW, MDNS_PORT } from './constants.js';
import type { Endpoint, InterfaceAddress, MdnsTransport } from './transport.js';
import { encodeMessage, type Message } from './wire.js';

export const COUNTERS = [
  'packetsIn',
  'packetsOut',
  'malformed',
  'offlink',
  'looped',
  'badPort',
  'ignored',
  'conflicts',
  'tieBreaksLost',
  'probesSent',
  'announcementsSent',
  'goodbyesSent',
  'queriesSent',
  'queriesAnswered',
  'answersSent',
  'answersSuppressed',
  'duplicatesSuppressed',
  'queriesSuppressed',
  'queriesHeld',
  'orphanKnownAnswers',
  'rateLimited',
  'legacyAnswered',
  'sendErrors',
  'errors',
] as const;
export type CounterName = (typeof COUNTERS)[number];
/** The presence service's named timers (the publisher's and the browser's). */
export type TimerName = 'query' | 'cache' | 'probe' | 'announce' | 'assemble';

export class Timers<K extends string> {
  private readonly timers = new Map<K, Timer>();
  private readonly oneShots = new Set<Timer>();
  constructor(private readonly clock: Clock) {}

  /** (Re)arm the named timer for absolute time `at`, or cancel it with null. */
  arm(name: K, at: number | null, fn: () => void): void {
    this.timers.get(name)?.cancel();
    this.timers.delete(name);
    if (at === null) return;
    this.timers.set(
      name,
      this.clock.setTimer(Math.max(0, at - this.clock.now()), () => {
        this.timers.delete(name);
        fn();
      }),
    );
  }

  later(ms: number, fn: () => void): Timer {
    const t: Timer = this.clock.setTimer(ms, () => {
      this.oneShots.delete(t);
      fn();
    });
    this.oneShots.add(t);
    return {
      cancel: () => {
        t.cancel();
        this.oneShots.delete(t);
      },
    };
  }

  clear(): void {
    for (const t of this.timers.values()) t.cancel();
    for (const t of this.oneShots) t.cancel();
    this.timers.clear();
    this.oneShots.clear();
  }
}

function ipv4ToInt(a: string): number | null {
  const p = a.split('.').map(Number);
  if (p.length !== 4 || p.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return null;
  return (
    (((p[0] as number) << 24) | ((p[1] as number) << 16) | ((p[2] as number) << 8) | (p[3] as number)) >>> 0
  );
}

/** RFC 6762 §11: accept only sources on our subnet (IPv4 only; `::ffff:` mapped allowed). */
export function onLink(source: string, ours: InterfaceAddress[]): boolean {
  if (ours.length === 0) return true;
  const src = ipv4ToInt(source.replace(/^::ffff:/i, ''));
  if (src === null) return false;
  return ours.some((o) => {
    const a = ipv4ToInt(o.address);
    const m = ipv4ToInt(o.netmask);
    return a !== null && m !== null && (a & m) >>> 0 === (src & m) >>> 0;
  });
}

export class Wire {
  readonly counters: Record<CounterName, number> = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<
    CounterName,
    number
  >;
  private sent: Array<{ at: number; buf: Buffer }> = [];
  private readonly warned = new Set<string>();

  constructor(
    private readonly transport: MdnsTransport,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  count(name: CounterName, n = 1): void {
    this.counters[name] += n;
  }

  /** Encode and send; multicast when `dest` is null. Returns false if it could not be encoded. */
  send(message: Message, dest: Endpoint | null): boolean {
    let buf: Buffer;
    try {
      buf = encodeMessage(message);
    } catch (err) {
      this.count('sendErrors');
      this.log.error({ err: String(err) }, 'cannot encode mDNS packet');
      return false;
    }
    if (dest === null) {
      const now = this.clock.now();
      this.sent = this.sent.filter((s) => now - s.at < ECHO_WINDOW).slice(-(ECHO_KEEP - 1));
      this.sent.push({ at: now, buf });
    }
    this.count('packetsOut');
    this.transport.send(buf, dest ?? undefined);
    return true;
  }

  /** Our own multicast looped back (same bytes as one we sent lately, from one of our addresses). */
  isEcho(buf: Buffer, from: Endpoint): boolean {
    if (from.port !== MDNS_PORT) return false;
    const addr = from.address.replace(/^::ffff:/i, '');
    if (!this.transport.addresses().some((a) => a.address === addr)) return false;
    const now = this.clock.now();
    return this.sent.some((s) => now - s.at < ECHO_WINDOW && s.buf.equals(buf));
  }

  /** Warn once per source address (Syncthing's warnedAbout); later ones go to debug. */
  warnOnce(source: string, obj: object, msg: string): void {
    if (this.warned.has(source) || this.warned.size > 1000) return this.log.debug({ source, ...obj }, msg);
    this.warned.add(source);
    this.log.warn({ source, ...obj }, msg);
  }
}
