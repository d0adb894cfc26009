/** Store contract (DESIGN "Store"): crash-safe JSON records on lowdb, validated and migrated by version. */
import type { Logger } from '../core/logger.js';

/** Every record carries its schema version at the top level. */
export interface Versioned {
  version: number;
}

export interface StoreInit<T extends Versioned> {
  /** Absolute path of the JSON file; `<file>.bak` holds the previous good copy. */
  file: string;
  /** Used when no file exists yet, and merged in for missing top-level keys. */
  defaults: T;
  /** Current schema version (written into every record). */
  version: number;
  /** Returns the record typed, or throws with a message saying what is wrong. */
  validate: (x: unknown) => T;
  /** migrations[n] turns a version n-1 record into version n; applied in order on load. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  migrations?: Record<number, (old: any) => any>;
}

/** The file operations the store uses: a seam for tests (fsync order, injected failures). */
export interface StoreFileHandle {
  writeFile(data: string | Uint8Array): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreFs {
  open(path: string, flags: string, mode?: number): Promise<StoreFileHandle>;
  readFile(path: string): Promise<Buffer>;
  readdir(path: string): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, alias: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, opts: { recursive: true; mode: number }): Promise<unknown>;
}

export interface StoreDeps {
  logger: Logger;
  /** Defaults to node:fs/promises. */
  fs?: StoreFs;
  /** Names quarantined files; defaults to Date.now. */
  now?: () => number;
}

export interface Store<T extends Versioned> {
  readonly file: string;
  /** The current record. Read only: change it through update(). */
  readonly data: Readonly<T>;
  /**
   * Change a copy, validate it, write it durably, then make it current. Serialized: updates never
   * interleave. If the write fails, data and the file on disk stay as they were (PH_ERR_STORE_WRITE).
   */
  update(fn: (draft: T) => unknown): Promise<Readonly<T>>;
  /** Waits for pending updates; later updates are refused. */
  close(): Promise<void>;
}
