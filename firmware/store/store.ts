/** openStore: lowdb over the durable adapter, with versioned migrations, defaults and serialized updates. */
import { Low } from 'lowdb';
import { dirname } from 'node:path';
import { PeerhubError } from '../core/errors.js';
import { DurableJsonAdapter } from './adapter.js';
import { nodeFs } from './fs.js';
import type { Store, StoreDeps, StoreInit, Versioned } from './types.js';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Raw JSON → current record: check the version, run migrations[v+1 … version] in order, merge the
 * defaults for missing top-level keys, validate. A newer or unmigratable version raises
 * PH_ERR_STORE_VERSION (the file is left alone); anything else that fails marks the copy corrupt.
 */
export function decodeRecord<T extends Versioned>(init: StoreInit<T>, raw: unknown): T {
  if (!isRecord(raw)) throw new Error('not a JSON object');
  const from = raw.version;
  if (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 0) {
    throw new Error(`"version" missing or not a non-negative integer (${JSON.stringify(from)})`);
  }
  if (from > init.version) {
    throw new PeerhubError(
      'PH_ERR_STORE_VERSION',
      `${init.file} has version ${from}, newer than this peerhub understands (${init.version}): ` +
        `upgrade peerhub, or restore a copy written by this version. The file was left as it is.`,
    );
  }
  let rec: unknown = raw;
  for (let v = from + 1; v <= init.version; v++) {
    const migrate = init.migrations?.[v];
    if (!migrate) {
      throw new PeerhubError(
        'PH_ERR_STORE_VERSION',
        `${init.file} has version ${from} and there is no migration to version ${v}. The file was left as it is.`,
      );
    }
    try {
      rec = migrate(rec);
    } catch (e) {
      throw new PeerhubError(
        'PH_ERR_STORE_VERSION',
        `migrate ${init.file} from version ${v - 1} to ${v}: ${(e as Error).message}. The file was left as it is.`,
        { cause: e },
      );
    }
    if (!isRecord(rec)) throw new Error(`migration to version ${v} returned no object`);
    rec = { ...rec, version: v };
  }
  return init.validate({ ...structuredClone(init.defaults), ...(rec as object), version: init.version });
}

class LowStore<T extends Versioned> implements Store<T> {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly db: Low<T>,
    private readonly init: StoreInit<T>,
  ) {}

  get file(): string {
    return this.init.file;
  }

  get data(): Readonly<T> {
    return this.db.data;
  }

  update(fn: (draft: T) => unknown): Promise<Readonly<T>> {
    if (this.closed) {
      return Promise.reject(new PeerhubError('PH_ERR_INTERNAL', `store ${this.init.file} is closed`));
    }
    const run = this.queue.then(() => this.apply(fn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(fn: (draft: T) => unknown): Promise<Readonly<T>> {
    const draft = structuredClone(this.db.data);
    await fn(draft);
    let next: T;
    try {
      next = this.init.validate({ ...draft, version: this.init.version });
    } catch (e) {
      throw new PeerhubError(
        'PH_ERR_INTERNAL',
        `refusing to write invalid data to ${this.init.file}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const before = this.db.data;
    this.db.data = next;
    try {
      await this.db.write();
    } catch (e) {
      this.db.data = before; // memory stays equal to what is on disk
      throw e;
    }
    return next;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }
}

/**
 * Open (or start) a store file. Throws PH_ERR_STORE_CORRUPT when neither the file nor its `.bak` is
 * usable (the bad file is kept as `<file>.corrupt-<time>`), PH_ERR_STORE_VERSION for a newer file.
 */
export async function openStore<T extends Versioned>(init: StoreInit<T>, deps: StoreDeps): Promise<Store<T>> {
  if (!Number.isSafeInteger(init.version) || init.version < 1) {
    throw new PeerhubError('PH_ERR_INTERNAL', `store version must be an integer ≥ 1, got ${init.version}`);
  }
  const fs = deps.fs ?? nodeFs;
  try {
    await fs.mkdir(dirname(init.file), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new PeerhubError('PH_ERR_STORE_WRITE', `create ${dirname(init.file)}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const adapter = new DurableJsonAdapter<T>(
    { logger: deps.logger, fs, now: deps.now },
    { file: init.file, decode: (raw) => decodeRecord(init, raw) },
  );
  const db = new Low<T>(adapter, { ...structuredClone(init.defaults), version: init.version });
  await db.read();
  return new LowStore(db, init);
}
