/** TXT between our announcement and Avahi's `aay` (pure). Same strings as the multicast-dns backend. */
import { buildTxt } from '../names.js';
import type { Announcement } from '../types.js';

/** The TXT strings we publish (`v=1`, `id=`, `st=`, `seq=`), validated for size like the mdns backend. */
export const announcementTxt = (a: Announcement): Buffer[] => buildTxt(a);

/** An `aay` as dbus-native hands it back (Buffers by default; arrays of numbers with ayBuffer off). */
export function txtFromDbus(value: unknown): Buffer[] {
  if (!Array.isArray(value)) return [];
  const out: Buffer[] = [];
  for (const item of value.slice(0, 256)) {
    if (Buffer.isBuffer(item)) out.push(Buffer.from(item));
    else if (item instanceof Uint8Array) out.push(Buffer.from(item));
    else if (Array.isArray(item) && item.every((n) => Number.isInteger(n) && n >= 0 && n <= 255))
      out.push(Buffer.from(item as number[]));
  }
  return out;
}

/** Identity of a TXT record's content (order kept: the same strings in the same order). */
export const txtKey = (txt: readonly Buffer[]): string => txt.map((b) => b.toString('hex')).join('.');
