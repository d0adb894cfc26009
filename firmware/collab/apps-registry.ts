/**
 * A bounded, store-backed set of items keyed by GUID: the shape shared by the application registry and
 * the published objects. Every change runs inside store.update (serialized, validated, fsynced) and is
 * reported only after the write landed; a failed write changes nothing, in memory or on disk.
 * File: `{ "version": 1, "<key>": [item, …] }`.
 */
import type { Clock } from '../core/clock.js';
import { PeerhubError, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { openStore, type Store, type StoreFs } from '../store/index.js';
import { checkGuid, isRecord, parseGuid } from './apps-fields.js';
import type { ItemChange } from './apps-types.js';

export const REGISTRY_VERSION = 1;

type Rec = { version: number } & Record<string, unknown>;

export interface RegistryDeps {
  logger: Logger;
  clock: Clock;
  /** Passed to the store (tests inject failures). */
  fs?: StoreFs;
}

export interface RegistrySpec<T extends { id: string }> {
  file: string;
  /** Top-level key of the list in the file, and the noun in messages ("application"). */
  key: string;
  noun: string;
  max: number;
  fullCode: ErrorCode;
  notFoundCode: ErrorCode;
  /** Checks one stored item (throws with what is wrong). */
  check: (x: unknown) => T;
  /** After the write: log and emit. */
  changed: (change: ItemChange, item: T) => void;
}

export class Registry<T extends { id: string }> {
  private store: Store<Rec> | null = null;

  constructor(
    private readonly deps: RegistryDeps,
    private readonly spec: RegistrySpec<T>,
  ) {}

  /** The file's validator: every item checked, no duplicate ids, at most `max`. */
  validate = (x: unknown): Rec => {
    const { key, max } = this.spec;
    if (!isRecord(x) || !Array.isArray(x[key])) throw new Error(`${key}: must be a list`);
    const list = x[key] as unknown[];
    if (list.length > max) throw new Error(`${key}: ${list.length} entries, at most ${max}`);
    const seen = new Set<string>();
    const items = list.map((item, i) => {
      try {
        const v = this.spec.check(item);
        if (seen.has(v.id)) throw new Error(`${v.id} listed twice`);
        seen.add(v.id);
        return v;
      } catch (e) {
        throw new Error(`${key}[${i}]: ${(e as Error).message}`, { cause: e });
      }
    });
    return { version: typeof x.version === 'number' ? x.version : REGISTRY_VERSION, [key]: items };
  };

  async open(): Promise<void> {
    if (this.store) return;
    this.store = await openStore<Rec>(
      {
        file: this.spec.file,
        version: REGISTRY_VERSION,
        defaults: { version: REGISTRY_VERSION, [this.spec.key]: [] },
        validate: this.validate,
      },
      { logger: this.deps.logger, fs: this.deps.fs, now: () => this.deps.clock.now() },
    );
    this.deps.logger.info(
      { file: this.spec.file, [this.spec.key]: this.items().length },
      `${this.spec.key} loaded`,
    );
  }

  async close(): Promise<void> {
    const s = this.store;
    this.store = null;
    await s?.close();
  }

  private get db(): Store<Rec> {
    if (!this.store) throw new PeerhubError('PH_ERR_INTERNAL', `${this.spec.key} registry is not open`);
    return this.store;
  }

  private items(d: Readonly<Rec> = this.db.data): T[] {
    return d[this.spec.key] as T[];
  }

  list(): T[] {
    return structuredClone(this.items());
  }

  get(id: string): T | undefined {
    const key = parseGuid(id);
    const found = key === undefined ? undefined : this.items().find((x) => x.id === key);
    return found && structuredClone(found);
  }

  /**
   * Add or replace the item with `id`: `build(old)` makes the new one. No write and no event when the
   * result equals the stored item. Returns the item now stored.
   */
  async put(id: string, build: (old: T | undefined) => T): Promise<T> {
    const { max, noun } = this.spec;
    let change: ItemChange | null = null;
    let stored: T | undefined;
    const current = this.items().find((x) => x.id === id);
    if (current && same(build(structuredClone(current)), current, ['registeredAt', 'updatedAt'])) {
      return structuredClone(current);
    }
    await this.db.update((d) => {
      const list = this.items(d);
      const i = list.findIndex((x) => x.id === id);
      if (i < 0 && list.length >= max) {
        throw new PeerhubError(
          this.spec.fullCode,
          `at most ${max} ${noun}s; remove one before adding ${id}`,
          {
            statusCode: 409,
          },
        );
      }
      const next = build(i < 0 ? undefined : structuredClone(list[i]));
      if (i < 0) list.push(next);
      else list[i] = next;
      change = i < 0 ? 'added' : 'updated';
      stored = structuredClone(next);
    });
    const item = stored as unknown as T;
    this.spec.changed(change as unknown as ItemChange, item);
    return structuredClone(item);
  }

  async remove(idIn: string): Promise<T> {
    const id = checkGuid(idIn);
    const notFound = (): PeerhubError =>
      new PeerhubError(this.spec.notFoundCode, `no ${this.spec.noun} ${id} on this hub`, { statusCode: 404 });
    if (!this.items().some((x) => x.id === id)) throw notFound();
    let removed: T | undefined;
    await this.db.update((d) => {
      const list = this.items(d);
      const i = list.findIndex((x) => x.id === id);
      if (i < 0) throw notFound();
      removed = list.splice(i, 1)[0];
    });
    const item = removed as T;
    this.spec.changed('removed', item);
    return structuredClone(item);
  }
}

/** Deep equality of two JSON items, ignoring some top-level keys (timestamps). */
function same(a: object, b: object, ignore: string[]): boolean {
  const strip = (o: object): string =>
    JSON.stringify(
      Object.entries(o)
        .filter(([k]) => !ignore.includes(k))
        .sort(([x], [y]) => (x < y ? -1 : 1)),
    );
  return strip(a) === strip(b);
}
