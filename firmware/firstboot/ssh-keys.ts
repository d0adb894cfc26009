/**
 * authorized_keys lines: `<type> <base64 blob> [comment]`, checked the way sshd would read them — the
 * blob must be base64 of length-prefixed fields whose first is the declared type (a truncated or
 * mangled paste fails here, not at the first login). Options before the type are not accepted.
 */

/** Key types OpenSSH 10 accepts, with the number of length-prefixed fields in their blob. */
const KEY_TYPES: Readonly<Record<string, number>> = {
  'ssh-ed25519': 2,
  'ssh-rsa': 3,
  'ecdsa-sha2-nistp256': 3,
  'ecdsa-sha2-nistp384': 3,
  'ecdsa-sha2-nistp521': 3,
  'sk-ssh-ed25519@openssh.com': 3,
  'sk-ecdsa-sha2-nistp256@openssh.com': 4,
};

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface ParsedKey {
  type: string;
  blob: string;
  comment: string;
  /** The normalised line: `type blob comment`, single spaces. */
  line: string;
}

/** Split a blob into its length-prefixed fields, or null if it does not divide exactly. */
function fields(buf: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 4 > buf.length) return null;
    const len = buf.readUInt32BE(at);
    at += 4;
    if (at + len > buf.length) return null;
    out.push(buf.subarray(at, at + len));
    at += len;
  }
  return out;
}

/** A short, safe form of a line for messages: type, start of the blob, comment. */
export function keyLabel(line: string): string {
  const [type = '', blob = '', ...rest] = line.trim().split(/\s+/);
  const shown = [
    type.slice(0, 40),
    blob.length > 16 ? `${blob.slice(0, 16)}…` : blob,
    rest.join(' ').slice(0, 40),
  ];
  return shown.filter(Boolean).join(' ');
}

/** Parse one authorized_keys line; a string is the problem (no trailing period). */
export function parseKeyLine(raw: string): ParsedKey | string {
  if (/[\r\n\0]/.test(raw)) return 'must be a single line';
  const parts = raw.trim().split(/\s+/);
  const [type = '', blob = '', ...rest] = parts;
  if (!type) return 'is empty';
  if (type === 'ssh-dss') return 'DSA keys (ssh-dss) are no longer accepted by OpenSSH: use ssh-ed25519';
  const expected = KEY_TYPES[type];
  if (expected === undefined) {
    return /[=",]/.test(type)
      ? 'must start with the key type (options before it are not supported)'
      : `unknown key type "${type.slice(0, 40)}" (expected ${Object.keys(KEY_TYPES).join(', ')})`;
  }
  if (!blob) return 'has no key data after the type';
  if (blob.length % 4 !== 0 || !BASE64.test(blob)) return 'key data is not valid base64 (truncated copy?)';
  const f = fields(Buffer.from(blob, 'base64'));
  if (!f || f.length === 0) return 'key data is truncated or malformed';
  const inner = f[0]!.toString('latin1');
  if (inner !== type) {
    return /^[\x21-\x7e]{1,40}$/.test(inner)
      ? `key data is a "${inner}" key, not "${type}"`
      : 'key data is truncated or malformed';
  }
  if (f.length !== expected) return 'key data is truncated or malformed';
  if (type === 'ssh-ed25519' && f[1]?.length !== 32) return 'key data is truncated or malformed';
  const comment = rest.join(' ');
  return { type, blob, comment, line: comment ? `${type} ${blob} ${comment}` : `${type} ${blob}` };
}

/** The identity of a key for deduplication: type + blob (comments differ between copies). */
export function keyId(line: string): string | null {
  const p = parseKeyLine(line);
  return typeof p === 'string' ? null : `${p.type} ${p.blob}`;
}
