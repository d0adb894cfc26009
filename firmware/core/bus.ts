/**
 * A typed event bus whose buffered history backs the control API's `/v1/events?since=N`
 * (Syncthing lib/events BufferedSubscription).
 */
export interface BusEvent<T = unknown> {
  id: number;
  time: string;
  type: string;
  data: T;
}

type Listener<M, K extends keyof M> = (data: M[K], ev: BusEvent<M[K]>) => void;

export class EventBus<M extends object> {
  private seq = 0;
  private readonly history: BusEvent[] = [];
  private readonly listeners = new Map<keyof M, Set<Listener<M, keyof M>>>();
  private readonly any = new Set<(ev: BusEvent) => void>();
  private readonly pending: BusEvent[] = [];
  private dispatching = false;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly keep = 1000,
  ) {}

  /**
   * Record and deliver an event. An event emitted by a listener is delivered once the current one has
   * reached every listener, so each listener sees events in id order (an event stream that skips ids
   * it has already written would otherwise lose the older one).
   */
  emit<K extends keyof M & string>(type: K, data: M[K]): BusEvent<M[K]> {
    const ev: BusEvent<M[K]> = { id: ++this.seq, time: new Date(this.now()).toISOString(), type, data };
    this.history.push(ev);
    if (this.history.length > this.keep) this.history.shift();
    this.pending.push(ev);
    if (this.dispatching) return ev;
    this.dispatching = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        const e = next as BusEvent<M[keyof M]>;
        for (const l of this.listeners.get(e.type as keyof M) ?? []) l(e.data, e);
        for (const l of this.any) l(next);
      }
    } finally {
      this.dispatching = false;
    }
    return ev;
  }

  on<K extends keyof M & string>(type: K, fn: Listener<M, K>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(fn as Listener<M, keyof M>);
    return () => set.delete(fn as Listener<M, keyof M>);
  }

  onAny(fn: (ev: BusEvent) => void): () => void {
    this.any.add(fn);
    return () => this.any.delete(fn);
  }

  /** Events with id > since, oldest first (bounded history). */
  since(since: number): BusEvent[] {
    return this.history.filter((e) => e.id > since);
  }

  get lastId(): number {
    return this.seq;
  }
}
