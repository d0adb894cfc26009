/**
 * Peer id as a value type (STYLE 12, after Syncthing's deviceid.go): base32 of SHA-256 over the root's
 * SubjectPublicKeyInfo, a check character per 13-character group, shown as 8 groups of 7.
 * Pure: no I/O, no clock.
 */
import { createHash } from 'node:crypto';
import { PeerhubError } from '../core/errors.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Characters of base32(SHA-256) without padding. */
const RAW_LENGTH = 52;
/** With one check character per 13-character group. */
const CHECKED_LENGTH = 56;
const LUHN_GROUP = 13;
const DISPLAY_GROUP = 7;
const CLASSIFIER = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** RFC 4648 base32, upper case, no padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

function codepoint(ch: string): number {
  const i = ALPHABET.indexOf(ch);
  if (i < 0 || ch.length !== 1) throw new Error(`character ${JSON.stringify(ch)} is not base32`);
  return i;
}

/**
 * Check character of one group: Syncthing's "Luhn mod 32" variant (factor 1 on the first character,
 * then alternating 2, 1, …), kept identical so ids can be checked by the same rule everywhere.
 */
export function luhn32(group: string): string {
  let factor = 1;
  let sum = 0;
  for (const ch of group) {
    const addend = factor * codepoint(ch);
    factor = factor === 2 ? 1 : 2;
    sum += Math.floor(addend / 32) + (addend % 32);
  }
  return ALPHABET[(32 - (sum % 32)) % 32] as string;
}

function addChecks(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i += LUHN_GROUP) {
    const g = raw.slice(i, i + LUHN_GROUP);
    out += g + luhn32(g);
  }
  return out;
}

function group(checked: string): string {
  const parts: string[] = [];
  for (let i = 0; i < checked.length; i += DISPLAY_GROUP) parts.push(checked.slice(i, i + DISPLAY_GROUP));
  return parts.join('-');
}

function invalid(input: string, why: string): PeerhubError {
  return new PeerhubError('PH_ERR_PEER_ID_INVALID', `invalid peer id ${JSON.stringify(input)}: ${why}`, {
    statusCode: 400,
  });
}

/** Canonical peer id (`XXXXXXX-…`, 8 groups of 7) from SHA-256 digest bytes. */
export function formatPeerId(digest: Uint8Array): string {
  if (digest.length !== 32) throw new Error(`peer id digest must be 32 bytes, got ${digest.length}`);
  return group(addChecks(base32(digest)));
}

/** Peer id of a root key: SHA-256 over its SubjectPublicKeyInfo (DER). */
export function peerIdFromSpki(der: Uint8Array): string {
  return formatPeerId(createHash('sha256').update(der).digest());
}

const PARSED_MAX = 1024; // ids remembered by parsePeerId
const PARSED_KEY_MAX = 80; // a canonical id is 63 characters; longer spellings are parsed every time
const parsed = new Map<string, string>();

/**
 * Parse a peer id leniently: any case, spaces or dashes anywhere, with or without check characters,
 * and the typing slips 0→O, 1→I, 8→B (none of them is in the alphabet). Returns the canonical form.
 * A wrong check character is an error, never silently accepted.
 */
export function parsePeerId(s: string): string {
  if (typeof s !== 'string') throw invalid(String(s), 'not a string');
  // Every peer request, resolution and policy check parses the same few ids again: remember the
  // answers (a pure function; a bounded map, emptied when full; errors are not remembered).
  const known = parsed.get(s);
  if (known !== undefined) return known;
  const id = parseUncached(s);
  if (s.length <= PARSED_KEY_MAX) {
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(s, id);
  }
  return id;
}

function parseUncached(s: string): string {
  const compact = s
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/0/g, 'O')
    .replace(/1/g, 'I')
    .replace(/8/g, 'B');
  const bad = [...compact].find((c) => !ALPHABET.includes(c));
  if (bad !== undefined) throw invalid(s, `character ${JSON.stringify(bad)} is not base32`);
  let raw: string;
  if (compact.length === RAW_LENGTH) raw = compact;
  else if (compact.length === CHECKED_LENGTH) raw = stripChecks(s, compact);
  else throw invalid(s, `expected ${CHECKED_LENGTH} characters (or ${RAW_LENGTH} without check characters)`);
  // 256 bits fill 51 characters and 1 bit of the 52nd; its 4 padding bits must be zero (A or Q).
  if (codepoint(raw[RAW_LENGTH - 1] as string) & 0b01111)
    throw invalid(s, 'not the encoding of a SHA-256 digest');
  return group(addChecks(raw));
}

function stripChecks(input: string, compact: string): string {
  let raw = '';
  for (let i = 0; i < 4; i++) {
    const at = i * (LUHN_GROUP + 1);
    const g = compact.slice(at, at + LUHN_GROUP);
    const given = compact[at + LUHN_GROUP];
    const want = luhn32(g);
    if (given !== want) {
      throw invalid(input, `check character ${i + 1} of 4 is ${given}, expected ${want} (a typo in the id?)`);
    }
    raw += g;
  }
  return raw;
}

/** True when `s` parses as a peer id. */
export function isPeerId(s: string): boolean {
  try {
    parsePeerId(s);
    return true;
  } catch {
    return false;
  }
}

/** Short form for logs: the first group (7 characters). */
export function shortId(id: string): string {
  return parsePeerId(id).slice(0, DISPLAY_GROUP);
}

/** Validate a classifier (a DNS label: 1–63 of a–z, 0–9, '-', no leading/trailing '-'); lower-cased. */
export function parseClassifier(classifier: string): string {
  const c = typeof classifier === 'string' ? classifier.toLowerCase() : '';
  if (!CLASSIFIER.test(c)) {
    throw new PeerhubError(
      'PH_ERR_PEER_NAME_INVALID',
      `invalid classifier ${JSON.stringify(classifier)}: use 1–63 letters, digits or '-', ` +
        `not starting or ending with '-' (e.g. kitchen-hub)`,
      { statusCode: 400 },
    );
  }
  return c;
}

/** The seed's peer name: `<peer id>.<classifier>`. */
export function peerName(id: string, classifier: string): string {
  return `${parsePeerId(id)}.${parseClassifier(classifier)}`;
}

/** Split a peer name into its canonical peer id and classifier. */
export function parsePeerName(name: string): { peerId: string; classifier: string } {
  const dot = typeof name === 'string' ? name.indexOf('.') : -1;
  if (dot < 0) {
    throw new PeerhubError('PH_ERR_PEER_NAME_INVALID', `invalid peer name ${JSON.stringify(name)}: no '.'`, {
      statusCode: 400,
    });
  }
  return { peerId: parsePeerId(name.slice(0, dot)), classifier: parseClassifier(name.slice(dot + 1)) };
}
