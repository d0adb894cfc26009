/**
 * Multi-packet known-answer lists (RFC 6762 §7.2), receiving side, pure with injected time: a query
 * with TC set is held until its continuation packets (no questions, only known answers, from the same
 * source) have come in — the last one without TC — or 400–500 ms after the latest packet, whichever is
 * first; then the query goes on with every known answer merged. The responder, the cache's duplicate
 * question suppression (§7.3) and its failure observation (§10.5) all judge the whole list: judged on
 * the first packet alone, records listed later were answered for nothing or counted as unanswered.
 */
import type { Endpoint } from './transport.js';
import { FLAG_TC, type Message } from './wire.js';

export const TC_WAIT_MIN = 400; // §7.2
export const TC_WAIT_MAX = 500;
export const MAX_HELD_QUERIES = 64; // sources held at once; the oldest goes on when one more comes
const MAX_MERGED_ANSWERS = 1024;

/** A query and where it came from. */
export interface Query {
  message: Message;
  from: Endpoint;
}

interface Held extends Query {
  until: number;
}

/** What to do with one received query packet. */
export type Intake =
  | { type: 'pass' } // not part of a multi-packet query: handle it now
  | { type: 'held'; release: Query[] } // kept for its continuations (release: others to handle now)
  | { type: 'merged'; query: Query } // the last continuation came: handle the whole query now
  | { type: 'orphan' }; // a continuation with no query held for its source (late, or forged): dropped

const isTruncated = (m: Message): boolean => (m.flags & FLAG_TC) !== 0;
const isContinuation = (m: Message): boolean =>
  !m.response && m.questions.length === 0 && m.authorities.length === 0 && m.answers.length > 0;

export class KnownAnswerAssembler {
  private readonly held = new Map<string, Held>();

  /** `random` in [0, 1) picks the 400–500 ms wait. */
  offer(message: Message, from: Endpoint, now: number, random: () => number): Intake {
    const source = `${from.address}|${from.port}`;
    const wait = (): number => now + TC_WAIT_MIN + Math.floor(random() * (TC_WAIT_MAX - TC_WAIT_MIN + 1));
    if (isContinuation(message)) {
      const h = this.held.get(source);
      if (!h) return { type: 'orphan' };
      const answers = [...h.message.answers, ...message.answers].slice(0, MAX_MERGED_ANSWERS);
      const merged: Held = { ...h, message: { ...h.message, answers } };
      if (isTruncated(message)) {
        this.held.set(source, { ...merged, until: wait() });
        return { type: 'held', release: [] };
      }
      this.held.delete(source);
      return { type: 'merged', query: complete(merged) };
    }
    if (message.response || !isTruncated(message) || message.questions.length === 0) return { type: 'pass' };
    // A new query from a source whose previous one is still held: that one is as complete as it gets.
    const release: Query[] = [];
    const previous = this.held.get(source);
    if (previous) release.push(complete(previous));
    this.held.delete(source);
    while (this.held.size >= MAX_HELD_QUERIES) {
      const [oldest, h] = this.held.entries().next().value as [string, Held];
      this.held.delete(oldest);
      release.push(complete(h));
    }
    this.held.set(source, { message, from, until: wait() });
    return { type: 'held', release };
  }

  /** Queries whose wait is over (their continuations lost, or still to come too late). */
  due(now: number): Query[] {
    const out: Query[] = [];
    for (const [source, h] of this.held) {
      if (h.until > now) continue;
      this.held.delete(source);
      out.push(complete(h));
    }
    return out;
  }

  nextDeadline(): number | null {
    let at = Infinity;
    for (const h of this.held.values()) at = Math.min(at, h.until);
    return Number.isFinite(at) ? at : null;
  }

  clear(): void {
    this.held.clear();
  }
}

/** The held query as handed on: TC cleared, every known answer gathered so far. */
const complete = (h: Held): Query => ({
  message: { ...h.message, flags: h.message.flags & ~FLAG_TC },
  from: h.from,
});
