/**
 * DNS message codec for mDNS (RFC 1035 §4, RFC 6762 §18). Our own, not dns-packet's: dns-packet 5.6
 * loses the QU bit of questions, cannot encode it, cannot carry a '.' inside an instance label and
 * reads A rdata past its rdlength. Names are presentation strings: labels joined by '.', with '.'
 * and '\' inside a label escaped by '\' (RFC 6763 §4.3). Every read is bounds-checked; bad input
 * throws WireError, never anything else.
 */
export const TYPE = { A: 1, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, NSEC: 47, ANY: 255 } as const;
export const CLASS_IN = 1;
export const CLASS_ANY = 255;
const TOP_BIT = 0x8000; // QU in questions, cache-flush in records
const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200; // §18.5: in a query, more known answers follow (§7.2)
const MAX_NAME = 255;
const MAX_LABEL = 63;
const MAX_POINTERS = 64;

export interface Question {
  name: string;
  type: number;
  klass: number;
  qu: boolean;
}

export type RData =
  | { kind: 'A'; address: string }
  | { kind: 'AAAA'; address: string }
  | { kind: 'PTR'; target: string }
  | { kind: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { kind: 'TXT'; strings: Buffer[] }
  | { kind: 'raw'; bytes: Buffer };

export interface ResourceRecord {
  name: string;
  type: number;
  klass: number;
  flush: boolean;
  ttl: number; // seconds
  data: RData;
}

export interface Message {
  id: number;
  flags: number; // without QR
  response: boolean;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

export class WireError extends Error {
  override name = 'WireError';
}

// ---- names -------------------------------------------------------------------------------

export function splitName(name: string): string[] {
  const labels: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '\\' && i + 1 < name.length) cur += name[++i];
    else if (c === '.') {
      if (cur) labels.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur) labels.push(cur);
  return labels;
}

// The fast paths (most labels have no '.' or '\\', most names no capital) matter: names are escaped,
// joined and keyed for every record of every packet, and that code runs cold (a few packets a minute).
export const escapeLabel = (l: string): string =>
  l.includes('.') || l.includes('\\') ? l.replace(/[\\.]/g, (c) => '\\' + c) : l;
export const joinName = (labels: string[]): string => labels.map(escapeLabel).join('.');
const NAME_KEYS_MAX = 4096;
const nameKeys = new Map<string, string>();
/**
 * Case-insensitive (ASCII) comparison key of a name (RFC 6762 §16). Remembered: a hub keys the same
 * few hundred names (its peers' instances and hosts) on every packet; the memory is bounded (cleared
 * when full, so a flood of random names costs what it cost without it).
 */
export function nameKey(name: string): string {
  let key = nameKeys.get(name);
  if (key !== undefined) return key;
  key = /[A-Z]/.test(name) ? name.replace(/[A-Z]+/g, (c) => c.toLowerCase()) : name;
  if (nameKeys.size >= NAME_KEYS_MAX) nameKeys.clear();
  nameKeys.set(name, key);
  return key;
}

/** The comparison keys of a name's suffixes: keys[i] is that of labels i… (the compression table's keys). */
function suffixKeys(labels: string[]): string[] {
  const keys = new Array<string>(labels.length);
  let suffix = '';
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = nameKey(escapeLabel(labels[i] as string));
    suffix = suffix === '' ? label : `${label}.${suffix}`;
    keys[i] = suffix;
  }
  return keys;
}

function encodeNameTo(out: Writer, name: string, compress: boolean): void {
  const labels = splitName(name);
  const keys = compress ? suffixKeys(labels) : [];
  for (let i = 0; i < labels.length; i++) {
    const suffix = keys[i] as string;
    const at = compress ? out.names.get(suffix) : undefined;
    if (at !== undefined) return out.u16(0xc000 | at);
    if (compress && out.len < 0x3fff) out.names.set(suffix, out.len);
    const bytes = Buffer.from(labels[i] as string, 'utf8');
    if (bytes.length > MAX_LABEL || bytes.length === 0) throw new WireError('bad label length');
    out.u8(bytes.length);
    out.bytes(bytes);
  }
  out.u8(0);
}

/** Uncompressed wire form of a name, for §8.2 comparisons. */
export function nameBytes(name: string): Buffer {
  const w = new Writer();
  encodeNameTo(w, name, false);
  return w.done();
}

// ---- writer / reader -----------------------------------------------------------------------

class Writer {
  private buf = Buffer.alloc(512);
  len = 0;
  readonly names = new Map<string, number>();
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  u8(v: number): void {
    this.room(1);
    this.buf.writeUInt8(v & 0xff, this.len++);
  }
  u16(v: number): void {
    this.room(2);
    this.buf.writeUInt16BE(v & 0xffff, this.len);
    this.len += 2;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(v))), this.len);
    this.len += 4;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  patch16(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }
  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}
  need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new WireError('truncated');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  take(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  name(): string {
    const labels: string[] = [];
    let pos = this.pos;
    let end = -1;
    let total = 0;
    for (let jumps = 0; ;) {
      if (pos >= this.buf.length) throw new WireError('name overflow');
      const len = this.buf[pos] as number;
      if (len === 0) {
        pos++;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new WireError('pointer overflow');
        const target = this.buf.readUInt16BE(pos) & 0x3fff;
        if (end < 0) end = pos + 2;
        if (target >= pos || ++jumps > MAX_POINTERS) throw new WireError('bad pointer');
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new WireError('bad label type');
      if (pos + 1 + len > this.buf.length) throw new WireError('label overflow');
      total += len + 1;
      if (total > MAX_NAME) throw new WireError('name too long');
      labels.push(this.buf.toString('utf8', pos + 1, pos + 1 + len));
      pos += 1 + len;
    }
    this.pos = end < 0 ? pos : end;
    return joinName(labels);
  }
}

// ---- rdata ----------------------------------------------------------------------------------

function ipv4Bytes(a: string): Buffer {
  const parts = a.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new WireError(`bad IPv4 address ${a}`);
  }
  return Buffer.from(parts);
}

function ipv6String(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function encodeRData(w: Writer, d: RData, compress: boolean): void {
  switch (d.kind) {
    case 'A':
      return w.bytes(ipv4Bytes(d.address));
    case 'AAAA':
      throw new WireError('AAAA encoding not supported');
    case 'PTR':
      return encodeNameTo(w, d.target, compress);
    case 'SRV':
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      return encodeNameTo(w, d.target, compress);
    case 'TXT':
      if (d.strings.length === 0) return w.u8(0); // RFC 6763 §6.1: never empty rdata
      for (const s of d.strings) {
        if (s.length > 255) throw new WireError('TXT string too long');
        w.u8(s.length);
        w.bytes(s);
      }
      return;
    case 'raw':
      return w.bytes(d.bytes);
  }
}

function decodeRData(r: Reader, type: number, rdlen: number): RData {
  const end = r.pos + rdlen;
  r.need(rdlen);
  const sub = (): RData => {
    switch (type) {
      case TYPE.A:
        if (rdlen !== 4) throw new WireError('A rdata length');
        return { kind: 'A', address: [...r.take(4)].join('.') };
      case TYPE.AAAA:
        if (rdlen !== 16) throw new WireError('AAAA rdata length');
        return { kind: 'AAAA', address: ipv6String(r.take(16)) };
      case TYPE.PTR:
        return { kind: 'PTR', target: r.name() };
      case TYPE.SRV:
        return { kind: 'SRV', priority: r.u16(), weight: r.u16(), port: r.u16(), target: r.name() };
      case TYPE.TXT: {
        const strings: Buffer[] = [];
        while (r.pos < end) {
          const len = r.u8();
          if (r.pos + len > end) throw new WireError('TXT overflow');
          if (len > 0) strings.push(Buffer.from(r.take(len)));
        }
        return { kind: 'TXT', strings };
      }
      default:
        return { kind: 'raw', bytes: Buffer.from(r.take(rdlen)) };
    }
  };
  const d = sub();
  if (r.pos !== end) throw new WireError('rdata length mismatch');
  return d;
}

/** Uncompressed rdata bytes: record identity and the §8.2 lexicographic comparison. */
export function rdataBytes(d: RData): Buffer {
  const w = new Writer();
  encodeRData(w, d, false);
  return w.done();
}

// ---- message --------------------------------------------------------------------------------

function encodeRecord(w: Writer, rr: ResourceRecord): void {
  encodeNameTo(w, rr.name, true);
  w.u16(rr.type);
  w.u16((rr.klass & 0x7fff) | (rr.flush ? TOP_BIT : 0));
  w.u32(rr.ttl);
  const lenAt = w.len;
  w.u16(0);
  encodeRData(w, rr.data, rr.type === TYPE.PTR || rr.type === TYPE.SRV);
  w.patch16(lenAt, w.len - lenAt - 2);
}

export function encodeMessage(m: Message): Buffer {
  const w = new Writer();
  w.u16(m.id);
  w.u16((m.flags & 0x7fff) | (m.response ? FLAG_QR : 0));
  for (const n of [m.questions.length, m.answers.length, m.authorities.length, m.additionals.length])
    w.u16(n);
  for (const q of m.questions) {
    encodeNameTo(w, q.name, true);
    w.u16(q.type);
    w.u16((q.klass & 0x7fff) | (q.qu ? TOP_BIT : 0));
  }
  for (const list of [m.answers, m.authorities, m.additionals]) for (const rr of list) encodeRecord(w, rr);
  return w.done();
}

function decodeRecord(r: Reader): ResourceRecord {
  const name = r.name();
  const type = r.u16();
  const k = r.u16();
  const ttl = r.u32();
  const rdlen = r.u16();
  return {
    name,
    type,
    klass: k & 0x7fff,
    flush: (k & TOP_BIT) !== 0,
    ttl,
    data: decodeRData(r, type, rdlen),
  };
}

export function decodeMessage(buf: Buffer): Message {
  if (buf.length < 12) throw new WireError('short header');
  if (buf.length > 9000) throw new WireError('oversized packet');
  const r = new Reader(buf);
  const id = r.u16();
  const flags = r.u16();
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()] as const;
  // Each question takes ≥ 5 bytes, each record ≥ 11: reject absurd counts before looping.
  if (counts[0] * 5 + (counts[1] + counts[2] + counts[3]) * 11 > buf.length - 12) {
    throw new WireError('counts exceed packet');
  }
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const name = r.name();
    const type = r.u16();
    const k = r.u16();
    questions.push({ name, type, klass: k & 0x7fff, qu: (k & TOP_BIT) !== 0 });
  }
  const lists = counts.slice(1).map((n) => Array.from({ length: n }, () => decodeRecord(r)));
  return {
    id,
    flags: flags & 0x7fff,
    response: (flags & FLAG_QR) !== 0,
    questions,
    answers: lists[0] ?? [],
    authorities: lists[1] ?? [],
    additionals: lists[2] ?? [],
  };
}
