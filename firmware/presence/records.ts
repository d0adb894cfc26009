/** Our record set (RFC 6763 §12 layout), record identity and the §8.2 tie-break comparison. */
import { SERVICE_TYPE, SERVICES_ENUM } from './constants.js';
import {
  CLASS_ANY,
  CLASS_IN,
  TYPE,
  escapeLabel,
  nameKey,
  rdataBytes,
  type Question,
  type RData,
  type ResourceRecord,
} from './wire.js';

export interface OwnRecord extends ResourceRecord {
  unique: boolean; // probed and announced with the cache-flush bit
}

export interface RecordSetInput {
  instance: string; // label, unescaped
  host: string; // label
  port: number;
  txt: Buffer[];
  addresses: string[];
  ttlHost: number;
  ttlService: number;
}

export const instanceName = (label: string): string => `${escapeLabel(label)}.${SERVICE_TYPE}`;
export const hostName = (label: string): string => `${escapeLabel(label)}.local`;

export function buildRecords(i: RecordSetInput): OwnRecord[] {
  const inst = instanceName(i.instance);
  const host = hostName(i.host);
  const rr = (name: string, type: number, ttl: number, unique: boolean, data: ResourceRecord['data']) => ({
    name,
    type,
    klass: CLASS_IN,
    flush: unique,
    ttl,
    unique,
    data,
  });
  return [
    rr(SERVICE_TYPE, TYPE.PTR, i.ttlService, false, { kind: 'PTR', target: inst }),
    rr(SERVICES_ENUM, TYPE.PTR, i.ttlService, false, { kind: 'PTR', target: SERVICE_TYPE }),
    rr(inst, TYPE.SRV, i.ttlHost, true, { kind: 'SRV', priority: 0, weight: 0, port: i.port, target: host }),
    rr(inst, TYPE.TXT, i.ttlService, true, { kind: 'TXT', strings: i.txt }),
    ...i.addresses.map((address) => rr(host, TYPE.A, i.ttlHost, true, { kind: 'A', address })),
  ];
}

/** Name+type+class: the RRset a record belongs to. */
export const rrsetKey = (r: { name: string; type: number; klass: number }): string =>
  `${nameKey(r.name)}|${r.type}|${r.klass}`;

/**
 * rdata identity as a string, built from the decoded fields without encoding them: two rdata get
 * the same key exactly when their uncompressed wire bytes are equal (names are canonical
 * presentation strings, TXT strings are length-prefixed, an empty TXT is the one empty string it
 * goes on the wire as). Every record received is keyed several times (cache, known answers, our
 * conflict check); encoding it into a Buffer for that was a quarter of a status change's path.
 * Memoized by the rdata object: records are copied with spreads (`{ ...rr, ttl }`) that share
 * `data`; RData objects are never mutated.
 */
const rdataKeys = new WeakMap<RData, string>();
const EMPTY_TXT = [Buffer.alloc(0)];
function rdataKey(d: RData): string {
  let rd = rdataKeys.get(d);
  if (rd === undefined) {
    rd = rdataKeyOf(d);
    rdataKeys.set(d, rd);
  }
  return rd;
}

function rdataKeyOf(d: RData): string {
  switch (d.kind) {
    case 'A':
      return `A${d.address}`;
    case 'AAAA':
      return `6${d.address}`;
    case 'PTR':
      return `P${d.target}`;
    case 'SRV':
      return `S${d.priority} ${d.weight} ${d.port} ${d.target}`;
    case 'TXT': {
      let k = 'T';
      for (const s of d.strings.length === 0 ? EMPTY_TXT : d.strings)
        k += `${s.length}:${s.toString('latin1')}`;
      return k;
    }
    case 'raw':
      return `R${d.bytes.toString('hex')}`;
  }
}

/** Full identity of a record: RRset + rdata. */
export function recordKey(r: ResourceRecord): string {
  return `${rrsetKey(r)}|${rdataKey(r.data)}`;
}

export function answersQuestion(r: ResourceRecord, q: Question): boolean {
  return (
    nameKey(r.name) === nameKey(q.name) &&
    (q.type === TYPE.ANY || q.type === r.type) &&
    (q.klass === CLASS_ANY || q.klass === r.klass)
  );
}

function compareRecord(a: ResourceRecord, b: ResourceRecord): number {
  if (a.klass !== b.klass) return a.klass - b.klass;
  if (a.type !== b.type) return a.type - b.type;
  const ab = safeRdata(a);
  const bb = safeRdata(b);
  return Buffer.compare(ab, bb);
}

function safeRdata(r: ResourceRecord): Buffer {
  try {
    return rdataBytes(r.data);
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * RFC 6762 §8.2 simultaneous probe tie-break for one name: sort both sets, compare pairwise
 * (class, type, rdata bytes); the first difference decides; a longer set wins over its prefix.
 * Returns < 0 when ours is lexicographically earlier (we lose), > 0 we win, 0 identical.
 */
export function tieBreak(ours: ResourceRecord[], theirs: ResourceRecord[]): number {
  const a = [...ours].sort(compareRecord);
  const b = [...theirs].sort(compareRecord);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareRecord(a[i] as ResourceRecord, b[i] as ResourceRecord);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
