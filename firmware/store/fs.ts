/** Durable file primitives over the StoreFs seam: write + fsync, directory fsync. */
import * as fsp from 'node:fs/promises';
import type { StoreFs } from './types.js';

export const nodeFs: StoreFs = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  readFile: (path) => fsp.readFile(path),
  readdir: (path) => fsp.readdir(path),
  rename: (from, to) => fsp.rename(from, to),
  link: (existing, alias) => fsp.link(existing, alias),
  unlink: (path) => fsp.unlink(path),
  mkdir: (path, opts) => fsp.mkdir(path, opts),
};

export function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/** Create or truncate `path`, write `data`, fsync, close (closing even when a step fails). */
export async function writeSynced(fs: StoreFs, path: string, data: string | Uint8Array): Promise<void> {
  const fh = await fs.open(path, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory so renames and links in it survive a power cut. */
export async function fsyncDir(fs: StoreFs, dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** unlink, ignoring a file that is already gone. */
export async function unlinkIfPresent(fs: StoreFs, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
}

/** Errors from link() on filesystems without hard links: fall back to copying. */
export const NO_HARDLINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);
