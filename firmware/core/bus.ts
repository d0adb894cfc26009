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

  constructor(
    private readonly now: () => number = Date.now,
    private readonly keep = 1000,
  ) {}

  emit<K extends keyof M & string>(type: K, data: M[K]): BusEvent<M[K]> {
    const ev: BusEvent<M[K]> = { id: ++this.seq, time: new Date(this.now()).toISOString(), type, data };
    this.history.push(ev);
    if (this.history.length > this.keep) this.history.shift();
    for (const l of this.listeners.get(type) ?? []) l(data, ev);
    for (const l of this.any) l(ev);
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
