/**
 * `<dataDir>/sessions.json`: the hosted sessions and their rosters (not the backlog, not connection
 * state). Sequence numbers are reserved in blocks (`seqReserved`), so a restart never reuses a seq
 * without writing the store on every message: after a restart the session goes on from the reservation
 * and members whose missed messages died with the backlog get PH_ERR_SESSION_BACKLOG_GONE and resync.
 */
import type { HostedSession } from './sessions-machine.js';
import { newSession } from './sessions-machine.js';

export const SESSIONS_VERSION = 1;
export const SEQ_BLOCK = 1000;

export interface StoredMember {
  peerId: string;
  nickname?: string;
  registeredAt: number;
  certPem: string;
}

export interface StoredSession {
  id: string;
  hostPeerId: string;
  appId?: string;
  createdAt: number;
  state: 'open' | 'ended';
  endedAt?: number;
  seqReserved: number;
  members: StoredMember[];
  removed?: Array<{ peerId: string; at: number }>;
}

export interface SessionsRecord {
  version: number;
  sessions: StoredSession[];
}

const isStr = (x: unknown, max = 20_000): x is string =>
  typeof x === 'string' && x.length > 0 && x.length <= max;
const isTime = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isSeq = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function checkMember(x: unknown): StoredMember {
  const m = x as Partial<StoredMember> | null;
  if (!m || typeof m !== 'object') throw new Error('member must be an object');
  if (!isStr(m.peerId, 200)) throw new Error('member.peerId missing');
  if (m.nickname !== undefined && typeof m.nickname !== 'string')
    throw new Error('member.nickname not a string');
  if (!isTime(m.registeredAt)) throw new Error('member.registeredAt not a time');
  if (!isStr(m.certPem) || !m.certPem.includes('BEGIN CERTIFICATE'))
    throw new Error('member.certPem missing');
  return {
    peerId: m.peerId,
    ...(m.nickname === undefined ? {} : { nickname: m.nickname }),
    registeredAt: m.registeredAt,
    certPem: m.certPem,
  };
}

function checkSession(x: unknown): StoredSession {
  const s = x as Partial<StoredSession> | null;
  if (!s || typeof s !== 'object') throw new Error('session must be an object');
  if (!isStr(s.id, 128)) throw new Error('id missing');
  if (!isStr(s.hostPeerId, 200)) throw new Error('hostPeerId missing');
  if (s.appId !== undefined && !isStr(s.appId, 200)) throw new Error('appId not a string');
  if (!isTime(s.createdAt)) throw new Error('createdAt not a time');
  if (s.state !== 'open' && s.state !== 'ended') throw new Error(`state ${String(s.state)} unknown`);
  if (s.endedAt !== undefined && !isTime(s.endedAt)) throw new Error('endedAt not a time');
  if (!isSeq(s.seqReserved)) throw new Error('seqReserved not a sequence number');
  if (!Array.isArray(s.members)) throw new Error('members must be a list');
  const members = s.members.map(checkMember);
  if (s.removed !== undefined && !Array.isArray(s.removed)) throw new Error('removed must be a list');
  const removed = (s.removed ?? []).map((r) => {
    if (!r || !isStr(r.peerId, 200) || !isTime(r.at)) throw new Error('removed: {peerId, at} entries');
    return { peerId: r.peerId, at: r.at };
  });
  if (new Set(members.map((m) => m.peerId)).size !== members.length)
    throw new Error('a member is listed twice');
  return {
    id: s.id,
    hostPeerId: s.hostPeerId,
    ...(s.appId === undefined ? {} : { appId: s.appId }),
    createdAt: s.createdAt,
    state: s.state,
    ...(s.endedAt === undefined ? {} : { endedAt: s.endedAt }),
    seqReserved: s.seqReserved,
    members,
    ...(removed.length === 0 ? {} : { removed }),
  };
}

export function validateSessions(x: unknown): SessionsRecord {
  const o = x as Partial<SessionsRecord> | null;
  if (!o || typeof o !== 'object' || !Array.isArray(o.sessions)) throw new Error('sessions: must be a list');
  const seen = new Set<string>();
  const sessions = o.sessions.map((s, i) => {
    try {
      const v = checkSession(s);
      if (seen.has(v.id)) throw new Error(`session ${v.id} listed twice`);
      seen.add(v.id);
      return v;
    } catch (e) {
      throw new Error(`sessions[${i}]: ${(e as Error).message}`, { cause: e });
    }
  });
  return { version: o.version ?? SESSIONS_VERSION, sessions };
}

export function toStored(s: HostedSession, seqReserved: number): StoredSession {
  return {
    id: s.id,
    hostPeerId: s.hostPeerId,
    ...(s.appId === undefined ? {} : { appId: s.appId }),
    createdAt: s.createdAt,
    state: s.state,
    ...(s.endedAt === undefined ? {} : { endedAt: s.endedAt }),
    seqReserved,
    members: [...s.members.values()].map((m) => ({
      peerId: m.peerId,
      ...(m.nickname === undefined ? {} : { nickname: m.nickname }),
      registeredAt: m.registeredAt,
      certPem: m.certPem,
    })),
    ...(s.removed.size === 0 ? {} : { removed: [...s.removed].map(([peerId, at]) => ({ peerId, at })) }),
  };
}

/** A session as loaded after a restart: seq resumes at the reservation, nothing before it is kept. */
export function fromStored(r: StoredSession): HostedSession {
  const s = newSession(r, r.createdAt, r.seqReserved);
  const members = new Map(
    r.members.map((m) => [m.peerId, { ...m, connected: false, lastAckSeq: r.seqReserved }] as const),
  );
  const removed = new Map((r.removed ?? []).map((x) => [x.peerId, x.at] as const));
  return {
    ...s,
    state: r.state,
    ...(r.endedAt === undefined ? {} : { endedAt: r.endedAt }),
    members,
    removed,
  };
}
