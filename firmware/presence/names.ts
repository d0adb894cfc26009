/** Instance/host naming, conflict renaming and the TXT format (RFC 6763 §4, §6). */
import { PRESENCE_STATES, type Announcement, type PresenceStatus } from './types.js';
import { TXT_MAX_BYTES } from './constants.js';

const MAX_LABEL_BYTES = 63;

function truncateUtf8(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}

/** A DNS-SD instance label from a nickname: control characters dropped, ≤ 63 bytes. */
export function instanceLabel(nickname: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = nickname.replace(/[\x00-\x1f\x7f]/g, '').trim();
  return truncateUtf8(clean || 'peerhub', MAX_LABEL_BYTES);
}

/** `Kitchen` → `Kitchen (2)` → `Kitchen (3)` (RFC 6763 §9 / Apple convention). */
export function nextInstanceLabel(label: string): string {
  const m = /^(.*) \((\d+)\)$/.exec(label);
  const base = m ? (m[1] as string) : label;
  const n = m ? Number(m[2]) + 1 : 2;
  const suffix = ` (${n})`;
  return truncateUtf8(base, MAX_LABEL_BYTES - suffix.length) + suffix;
}

/** `peerhub-x` → `peerhub-x-2` → `peerhub-x-3`. */
export function nextHostLabel(label: string): string {
  const m = /^(.*)-(\d+)$/.exec(label);
  if (m && /^peerhub-[a-z0-9]+$/.test(m[1] as string)) return `${m[1]}-${Number(m[2]) + 1}`;
  return `${label}-2`;
}

/** Nickname shown for an instance: the label without a ` (n)` rename suffix. */
export const nicknameOf = (label: string): string => label.replace(/ \(\d+\)$/, '');

/** Default host label: `peerhub-` + 6 lowercase alphanumerics of the peer id. */
export function defaultHostLabel(peerId: string): string {
  const chars = peerId.toLowerCase().replace(/[^a-z0-9]/g, '');
  return `peerhub-${(chars + 'xxxxxx').slice(0, 6)}`;
}

export function buildTxt(a: Announcement): Buffer[] {
  const strings = [`v=1`, `id=${a.peerId}`, `st=${a.status}`, `seq=${a.seq}`].map((s) => Buffer.from(s));
  const size = strings.reduce((n, s) => n + s.length + 1, 0);
  if (size > TXT_MAX_BYTES) throw new RangeError(`TXT record is ${size} bytes (max ${TXT_MAX_BYTES})`);
  return strings;
}

export interface ParsedTxt {
  txt: Record<string, string>;
  wellFormed: boolean;
  id: string | null;
  status: PresenceStatus | 'Unknown';
  seq: number;
}

const PEER_ID_RE = /^[A-Z2-7]{4,16}(-[A-Z2-7]{4,16}){0,15}$/;

/** Tolerant TXT parse: never throws; anything not ours is shown unverified with status Unknown. */
export function parseTxt(strings: Buffer[]): ParsedTxt {
  const txt: Record<string, string> = {};
  for (const s of strings.slice(0, 64)) {
    const text = s.toString('utf8');
    const eq = text.indexOf('=');
    const key = (eq < 0 ? text : text.slice(0, eq)).toLowerCase();
    // RFC 6763 §6.4: printable ASCII keys, no '='; first occurrence wins.
    if (!key || key.length > 9 * 8 || !/^[\x20-\x7e]+$/.test(key) || key in txt) continue;
    txt[key] = eq < 0 ? '' : text.slice(eq + 1);
  }
  const id = typeof txt.id === 'string' && PEER_ID_RE.test(txt.id) ? txt.id : null;
  const st = (PRESENCE_STATES as readonly string[]).includes(txt.st ?? '')
    ? (txt.st as PresenceStatus)
    : null;
  const seqRaw = txt.seq ?? '';
  const seq = /^\d{1,15}$/.test(seqRaw) ? Number(seqRaw) : 0;
  const wellFormed = txt.v === '1' && id !== null && st !== null && /^\d{1,15}$/.test(seqRaw);
  return { txt, wellFormed, id: wellFormed ? id : null, status: wellFormed && st ? st : 'Unknown', seq };
}
