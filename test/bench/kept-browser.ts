/**
 * A fleet hub's avahi-browse -rp, kept running. With 100 avahi-daemons, their buses and 100 resolving
 * browsers on 2 cores, avahi clients fail their D-Bus calls ("Failed to create client object: Daemon not
 * running", "An unexpected D-Bus error occurred") — at start, and in one run a minute in — and
 * avahi-browse exits. It is started again (after a growing pause, a bounded number of times); its lines across
 * restarts are one timeline, and an exit first removes everything the dead browser listed (the hub's
 * view is gone until the new one lists the services again).
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { AvahiBrowseLine } from '../lab/avahi.js';
import { waitForStamped, type Stamped, type Stream } from '../lab/proc.js';

export interface KeptBrowserOptions {
  name: string; // for messages
  restarts: number; // at most this many restarts, then it gives up
  retryMs: number; // before the first restart, doubled for each next one (up to 16×)
  log: (msg: string) => void;
}

export class KeptBrowser {
  readonly records: Stamped<AvahiBrowseLine>[] = [];
  restarts = 0;
  private readonly bus = new EventEmitter();
  private current: Stream<AvahiBrowseLine> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  private gaveUp = false;
  private lastError = '';

  constructor(
    private readonly spawn: () => Stream<AvahiBrowseLine>,
    private readonly o: KeptBrowserOptions,
  ) {
    this.bus.setMaxListeners(100);
  }

  start(): void {
    if (this.current || this.stopped) return;
    this.launch();
  }

  /** The first record (at or after `since`) matching `pred`; rejects at the deadline or once it gave up. */
  waitForRecord(
    pred: (v: AvahiBrowseLine) => boolean,
    opts: { timeout?: number; since?: number },
  ): Promise<Stamped<AvahiBrowseLine>> {
    return waitForStamped(this.records, this.bus, pred, opts, {
      endEvent: 'gave-up',
      ended: () => this.gaveUp,
      endError: () =>
        new Error(`${this.o.name}: avahi-browse gave up after ${this.restarts} restarts (${this.lastError})`),
      timeoutError: (ms) => new Error(`${this.o.name}: no matching avahi-browse line within ${ms} ms`),
    });
  }

  describe(): string {
    const state = this.gaveUp ? 'gave up' : this.current?.running ? 'running' : 'not running';
    return `avahi-browse ${state}${this.restarts ? ` after ${this.restarts} restarts (${this.lastError})` : ''}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.current?.stop('SIGTERM', 3_000);
  }

  private push(rec: Stamped<AvahiBrowseLine>): void {
    this.records.push(rec);
    this.bus.emit('record', rec);
  }

  private launch(): void {
    const s = this.spawn();
    this.current = s;
    const off = s.onRecord((rec) => this.push(rec));
    void s.exited.then(() => {
      off();
      this.exited(s);
    });
  }

  private exited(s: Stream<AvahiBrowseLine>): void {
    if (this.stopped) return;
    const t = performance.now();
    for (const name of listed(this.records)) {
      this.push({ t, value: { kind: '-', iface: '', protocol: '', name, type: '', domain: '' } });
    }
    this.lastError = s
      .tail(1)
      .replace(/^\s*\[[^\]]*\]\s*!?\s*/, '')
      .trim();
    if (this.restarts >= this.o.restarts) {
      this.gaveUp = true;
      this.o.log(
        `${this.o.name}: avahi-browse exited (${this.lastError}); gave up after ${this.restarts} restarts`,
      );
      this.bus.emit('gave-up');
      return;
    }
    this.restarts++;
    this.o.log(`${this.o.name}: avahi-browse exited (${this.lastError}); started again (${this.restarts})`);
    this.retry = setTimeout(
      () => {
        this.retry = null;
        if (!this.stopped) this.launch();
      },
      restartDelayMs(this.o.retryMs, this.restarts),
    );
  }
}

/** The pause before restart number `n` (1, 2, …): `baseMs`, doubled for each next one, up to 16×. */
export function restartDelayMs(baseMs: number, n: number): number {
  return baseMs * 2 ** Math.min(4, n - 1);
}

/** The names resolved (`=`) and not removed since, by these lines. */
export function listed(records: readonly Stamped<AvahiBrowseLine>[]): Set<string> {
  const names = new Set<string>();
  for (const { value: l } of records) {
    if (l.kind === '=') names.add(l.name);
    else if (l.kind === '-') names.delete(l.name);
  }
  return names;
}
