/**
 * Delivery with bounded retries: one loop per record (a newer send for the same record supersedes the
 * older), exponential back-off on the injected clock, given up at the deadline, after `maxAttempts`, or
 * at once on a final refusal. What is sent and what success or failure means belongs to the caller.
 */
import type { Clock, Timer } from '../core/clock.js';
import { isPeerhubError } from '../core/errors.js';

export interface RetryConfig {
  minMs: number;
  maxMs: number;
  maxAttempts: number;
}

export interface SenderHooks<K> {
  clock: Clock;
  /** Registers in-flight work (so `idle()` can wait for it). */
  track(p: Promise<unknown>): void;
  attempt(id: string, kind: K): Promise<unknown>;
  done(id: string, kind: K, reply: unknown): Promise<unknown>;
  giveUp(id: string, kind: K, reason: string): Promise<unknown>;
  /** Last moment worth trying; null when the record is gone. */
  deadline(id: string, kind: K): number | null;
  isFinal(e: unknown): boolean;
  onRetry?(id: string, kind: K, reason: string, inMs: number): void;
  onError?(id: string, e: unknown): void;
}

export function reasonOf(e: unknown): string {
  return isPeerhubError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
}

export class Sender<K> {
  private readonly jobs = new Map<string, { token: number; timer?: Timer }>();
  private token = 0;

  constructor(
    private readonly hooks: SenderHooks<K>,
    private readonly cfg: RetryConfig,
  ) {}

  send(id: string, kind: K): void {
    this.cancel(id);
    const token = ++this.token;
    this.jobs.set(id, { token });
    this.run(id, kind, 0, token);
  }

  cancel(id: string): void {
    this.jobs.get(id)?.timer?.cancel();
    this.jobs.delete(id);
  }

  cancelAll(): void {
    for (const id of [...this.jobs.keys()]) this.cancel(id);
  }

  private run(id: string, kind: K, attempt: number, token: number): void {
    const h = this.hooks;
    const current = (): boolean => this.jobs.get(id)?.token === token;
    const chain = h
      .attempt(id, kind)
      .then((reply) => {
        if (!current()) return;
        this.cancel(id);
        return h.done(id, kind, reply);
      })
      .catch((e: unknown) => {
        if (!current()) return;
        const reason = reasonOf(e);
        const wait = Math.min(this.cfg.maxMs, this.cfg.minMs * 2 ** attempt);
        const until = h.deadline(id, kind);
        if (
          until === null ||
          h.isFinal(e) ||
          attempt + 1 >= this.cfg.maxAttempts ||
          h.clock.now() + wait >= until
        ) {
          this.cancel(id);
          return h.giveUp(id, kind, reason);
        }
        h.onRetry?.(id, kind, reason, wait);
        const timer = h.clock.setTimer(wait, () => {
          if (current()) this.run(id, kind, attempt + 1, token);
        });
        this.jobs.set(id, { token, timer });
      })
      .catch((e: unknown) => h.onError?.(id, e));
    h.track(chain);
  }
}
