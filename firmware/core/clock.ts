/** Injected time (STYLE 4–5): state machines take `now`, shells schedule through a Clock. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimer(ms: number, fn: () => void): Timer;
  /**
   * Run `fn` once the I/O callbacks already due have run (setImmediate): work that many packets of one
   * burst would each redo is done once for the burst. Without it, a 0 ms timer.
   */
  soon?(fn: () => void): void;
}

/**
 * The longest delay Node's setTimeout holds (2^31 − 1 ms, 24.8 days): a longer one fires after 1 ms
 * with a TimeoutOverflowWarning. A deadline computed against a wall clock that jumped (a hub in 1970
 * until NTP answers) can be decades away; it is waited for in steps of at most this length.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    let t: ReturnType<typeof setTimeout>;
    const arm = (left: number): void => {
      const step = Math.min(Math.max(0, left), MAX_TIMER_DELAY_MS);
      t = setTimeout(() => (left > step ? arm(left - step) : fn()), step);
      t.unref?.();
    };
    arm(ms);
    return { cancel: () => clearTimeout(t) };
  },
  soon(fn) {
    setImmediate(fn);
  },
};

/** A manual clock for tests: time moves only when `advance` is called. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { cancel: () => void this.timers.delete(id) };
  }

  /** Move time forward, firing due timers in order (timers set while firing are honoured). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }

  get pending(): number {
    return this.timers.size;
  }
}
