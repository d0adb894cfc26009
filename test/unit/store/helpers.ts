import { basename } from 'node:path';
import { nodeFs } from '../../../firmware/store/index.js';
import type { StoreFs, Versioned } from '../../../firmware/store/index.js';

/** Returns an error to throw instead of doing `op` on `path`, or undefined to let it happen. */
export type Fault = (op: string, path: string) => NodeJS.ErrnoException | undefined;

export function fsError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated failure, ${syscall}`), { code, syscall });
}

/**
 * The real filesystem, with every operation recorded as `op name[ -> name]` (base names) and an optional
 * fault injector.
 */
export function recordingFs(log: string[], fault: Fault = () => undefined): StoreFs {
  const step = (op: string, path: string, detail = basename(path)): void => {
    const err = fault(op, path);
    log.push(`${op} ${detail}`);
    if (err) throw err;
  };
  return {
    async open(path, flags, mode) {
      step('open', path, `${basename(path)} ${flags}`);
      const fh = await nodeFs.open(path, flags, mode);
      return {
        writeFile: async (data) => {
          step('write', path);
          await fh.writeFile(data);
        },
        sync: async () => {
          step('sync', path);
          await fh.sync();
        },
        close: async () => {
          log.push(`close ${basename(path)}`);
          await fh.close();
        },
      };
    },
    async readFile(path) {
      step('read', path);
      return nodeFs.readFile(path);
    },
    async readdir(path) {
      step('readdir', path);
      return nodeFs.readdir(path);
    },
    async rename(from, to) {
      step('rename', from, `${basename(from)} -> ${basename(to)}`);
      return nodeFs.rename(from, to);
    },
    async link(existing, alias) {
      step('link', existing, `${basename(existing)} -> ${basename(alias)}`);
      return nodeFs.link(existing, alias);
    },
    async unlink(path) {
      step('unlink', path);
      return nodeFs.unlink(path);
    },
    async mkdir(path, opts) {
      step('mkdir', path);
      return nodeFs.mkdir(path, opts);
    },
  };
}

export interface Counter extends Versioned {
  count: number;
  names: string[];
}

export const counterDefaults: Counter = { version: 1, count: 0, names: [] };

export function validateCounter(x: unknown): Counter {
  const o = x as Partial<Counter> | null;
  if (!o || typeof o !== 'object') throw new Error('not an object');
  if (!Number.isSafeInteger(o.count)) throw new Error('count: must be an integer');
  if (!Array.isArray(o.names) || !o.names.every((n) => typeof n === 'string')) {
    throw new Error('names: must be an array of strings');
  }
  return o as Counter;
}
