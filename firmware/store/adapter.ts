/**
 * A lowdb Adapter that survives power cuts and never trades data for empty defaults.
 *
 * write: `<file>.tmp` is written and fsynced; the current good file is hard-linked to `<file>.bak`
 * (via `<file>.bak.tmp` + rename, so `.bak` is always whole); `<file>.tmp` is renamed over `<file>`;
 * the directory is fsynced. At every instant `<file>` is a whole good copy (old or new), and so is
 * `.bak` once it exists.
 *
 * read: a missing file yields null (lowdb then uses the defaults). A file that does not parse or
 * decode is moved aside to `<file>.corrupt-<time>` (kept, never deleted), a warning is logged, and
 * `.bak` is used if it is good; with no good copy, PH_ERR_STORE_CORRUPT names the quarantined file.
 */
import type { Adapter } from 'lowdb';
import { basename, dirname, join } from 'node:path';
import { isPeerhubError, PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { errno, fsyncDir, NO_HARDLINKS, nodeFs, unlinkIfPresent, writeSynced } from './fs.js';
import type { StoreFs } from './types.js';

export interface DurableAdapterInit<T> {
  file: string;
  /**
   * Turn parsed JSON into a record (migrate, validate). Throwing marks the copy corrupt, except a
   * PH_ERR_STORE_VERSION PeerhubError, which is raised as is and leaves the file alone.
   */
  decode: (raw: unknown) => T;
}

export interface DurableAdapterDeps {
  logger: Logger;
  fs?: StoreFs;
  now?: () => number;
}

type Copy<T> = { kind: 'missing' } | { kind: 'ok'; data: T } | { kind: 'bad'; reason: string };

export class DurableJsonAdapter<T> implements Adapter<T> {
  readonly file: string;
  readonly bak: string;
  private readonly dir: string;
  private readonly fs: StoreFs;
  private readonly now: () => number;
  /** Whether `file` on disk holds a good copy that may become `.bak`. */
  private fileIsGood = false;

  constructor(
    private readonly deps: DurableAdapterDeps,
    private readonly init: DurableAdapterInit<T>,
  ) {
    this.file = init.file;
    this.bak = `${init.file}.bak`;
    this.dir = dirname(init.file);
    this.fs = deps.fs ?? nodeFs;
    this.now = deps.now ?? Date.now;
  }

  async read(): Promise<T | null> {
    const main = await this.load(this.file);
    if (main.kind === 'ok') {
      this.fileIsGood = true;
      return main.data;
    }
    this.fileIsGood = false;
    let quarantined: string | undefined;
    if (main.kind === 'bad') {
      quarantined = await this.quarantine();
      this.deps.logger.warn(
        { file: this.file, quarantined, reason: main.reason },
        'store file corrupt: moved aside, trying the last good copy',
      );
    }
    const bak = await this.load(this.bak);
    if (bak.kind === 'ok') {
      this.deps.logger.warn(
        { file: this.file, bak: this.bak },
        'store loaded from its last good copy (.bak)',
      );
      return bak.data;
    }
    if (main.kind === 'missing' && bak.kind === 'missing') {
      // After an earlier quarantine with no good copy, a restart must not quietly start empty.
      const earlier = await this.quarantinedCopies();
      if (earlier.length === 0) return null;
      throw new PeerhubError(
        'PH_ERR_STORE_CORRUPT',
        `${this.file} is missing, there is no ${this.bak}, and earlier copies were quarantined: ` +
          `${earlier.join(', ')}. Repair one and rename it to ${this.file}, or move them out of ` +
          `${this.dir} to start this store empty.`,
      );
    }
    const parts = [
      quarantined
        ? `${this.file} is corrupt (${main.kind === 'bad' ? main.reason : ''}) and was moved aside to ${quarantined}`
        : `${this.file} is missing`,
      bak.kind === 'bad'
        ? `the last good copy ${this.bak} is corrupt too (${bak.reason})`
        : `there is no ${this.bak}`,
    ];
    throw new PeerhubError(
      'PH_ERR_STORE_CORRUPT',
      `${parts.join('; ')}. Nothing was deleted. Repair or restore ${quarantined ?? this.bak} from a ` +
        `backup, or move ${quarantined ? 'it' : this.bak} out of ${this.dir} to start this store empty.`,
    );
  }

  async write(data: T): Promise<void> {
    const tmp = `${this.file}.tmp`;
    try {
      await writeSynced(this.fs, tmp, `${JSON.stringify(data, null, 2)}\n`);
      if (this.fileIsGood) await this.keepBackup();
      await this.fs.rename(tmp, this.file);
      this.fileIsGood = true;
      await fsyncDir(this.fs, this.dir);
    } catch (e) {
      await unlinkIfPresent(this.fs, tmp).catch(() => undefined);
      throw new PeerhubError(
        'PH_ERR_STORE_WRITE',
        `write ${this.file}: ${errno(e) ?? ''}${errno(e) ? ' ' : ''}${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /** `.bak` := the current (good, already fsynced) file, atomically. */
  private async keepBackup(): Promise<void> {
    const bakTmp = `${this.bak}.tmp`;
    await unlinkIfPresent(this.fs, bakTmp);
    try {
      await this.fs.link(this.file, bakTmp);
    } catch (e) {
      if (!NO_HARDLINKS.has(errno(e) ?? '')) throw e;
      await writeSynced(this.fs, bakTmp, await this.fs.readFile(this.file));
    }
    await this.fs.rename(bakTmp, this.bak);
  }

  private async load(path: string): Promise<Copy<T>> {
    let text: string;
    try {
      text = (await this.fs.readFile(path)).toString('utf8');
    } catch (e) {
      if (errno(e) === 'ENOENT') return { kind: 'missing' };
      throw new PeerhubError('PH_ERR_STORE_CORRUPT', `read ${path}: ${(e as Error).message}`, { cause: e });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      return { kind: 'bad', reason: text.length === 0 ? 'empty file' : `not JSON: ${(e as Error).message}` };
    }
    try {
      return { kind: 'ok', data: this.init.decode(raw) };
    } catch (e) {
      if (isPeerhubError(e, 'PH_ERR_STORE_VERSION')) throw e;
      return { kind: 'bad', reason: `invalid: ${(e as Error).message}` };
    }
  }

  private async quarantinedCopies(): Promise<string[]> {
    const prefix = `${basename(this.file)}.corrupt-`;
    try {
      return (await this.fs.readdir(this.dir))
        .filter((f) => f.startsWith(prefix))
        .map((f) => join(this.dir, f));
    } catch (e) {
      if (errno(e) === 'ENOENT') return [];
      throw e;
    }
  }

  /** Move the bad file to `<file>.corrupt-<time>` without replacing an earlier one; returns its path. */
  private async quarantine(): Promise<string> {
    const stamp = new Date(this.now()).toISOString().replace(/[:.]/g, '-');
    for (let n = 0; ; n++) {
      const target = `${this.file}.corrupt-${stamp}${n ? `-${n}` : ''}`;
      try {
        await this.fs.link(this.file, target);
        await this.fs.unlink(this.file);
      } catch (e) {
        if (errno(e) === 'EEXIST' && n < 100) continue;
        if (!NO_HARDLINKS.has(errno(e) ?? '')) {
          throw new PeerhubError(
            'PH_ERR_STORE_CORRUPT',
            `quarantine ${basename(this.file)}: ${(e as Error).message}`,
            {
              cause: e,
            },
          );
        }
        await this.fs.rename(this.file, target);
      }
      await fsyncDir(this.fs, this.dir);
      return target;
    }
  }
}
