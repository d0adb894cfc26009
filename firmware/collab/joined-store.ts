/**
 * `<dataDir>/joined.json`: the sessions this hub joined as a member — host, membership certificate,
 * roster, state and the seq it had when last written (not the messages: after a restart the member
 * fetches from that seq what the host's backlog still has). Closed ones (left, ended) are kept a while.
 */
import type { Logger } from '../core/logger.js';
import { openStore, type Store, type StoreFs } from '../store/index.js';

export const JOINED_VERSION = 1;
export const KEEP_CLOSED_JOINED = 32;

export interface JoinedRecord {
  id: string;
  hostPeerId: string;
  certPem: string;
  chainPem: string[];
  lastSeq: number;
  members: Array<{ peerId: string; nickname?: string }>;
  state: 'joined' | 'left' | 'ended';
}

export interface JoinedFile {
  version: number;
  sessions: JoinedRecord[];
}

const str = (x: unknown, max = 20_000): x is string =>
  typeof x === 'string' && x.length > 0 && x.length <= max;

function checkRecord(x: unknown, i: number): JoinedRecord {
  const r = x as Partial<JoinedRecord> | null;
  const bad = (what: string): Error => new Error(`sessions[${i}].${what}`);
  if (!r || typeof r !== 'object') throw bad('must be an object');
  if (!str(r.id, 128)) throw bad('id missing');
  if (!str(r.hostPeerId, 200)) throw bad('hostPeerId missing');
  if (!str(r.certPem)) throw bad('certPem missing');
  if (!Array.isArray(r.chainPem) || !r.chainPem.every((c) => str(c))) throw bad('chainPem: PEM list');
  if (typeof r.lastSeq !== 'number' || !Number.isSafeInteger(r.lastSeq) || r.lastSeq < 0)
    throw bad('lastSeq: integer ≥ 0');
  if (!Array.isArray(r.members) || !r.members.every((m) => str(m?.peerId, 200)))
    throw bad('members: list of {peerId}');
  if (r.state !== 'joined' && r.state !== 'left' && r.state !== 'ended') throw bad('state');
  return {
    id: r.id,
    hostPeerId: r.hostPeerId,
    certPem: r.certPem,
    chainPem: [...r.chainPem],
    lastSeq: r.lastSeq,
    members: r.members.map((m) => ({
      peerId: m.peerId,
      ...(typeof m.nickname === 'string' ? { nickname: m.nickname } : {}),
    })),
    state: r.state,
  };
}

export function validateJoined(x: unknown): JoinedFile {
  const o = x as Partial<JoinedFile> | null;
  if (!o || typeof o !== 'object' || !Array.isArray(o.sessions))
    throw new Error('joined: sessions must be a list');
  return { version: o.version ?? JOINED_VERSION, sessions: o.sessions.map(checkRecord) };
}

export function openJoinedStore(
  file: string,
  deps: { logger: Logger; fs?: StoreFs; now: () => number },
): Promise<Store<JoinedFile>> {
  return openStore<JoinedFile>(
    {
      file,
      version: JOINED_VERSION,
      defaults: { version: JOINED_VERSION, sessions: [] },
      validate: validateJoined,
    },
    deps,
  );
}

/** Put `r` in the file (replacing its older copy); drop the oldest closed ones beyond the limit. */
export function upsertJoined(d: JoinedFile, r: JoinedRecord): void {
  const i = d.sessions.findIndex((x) => x.id === r.id);
  if (i >= 0) d.sessions[i] = r;
  else d.sessions.push(r);
  const closed = d.sessions.filter((x) => x.state !== 'joined');
  const drop = new Set(closed.slice(0, Math.max(0, closed.length - KEEP_CLOSED_JOINED)).map((x) => x.id));
  if (drop.size > 0) d.sessions = d.sessions.filter((x) => !drop.has(x.id));
}
