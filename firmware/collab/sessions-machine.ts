/**
 * One hosted session, pure: `(state, input, now, cfg) → {state, effects, error?}`. The roster, the
 * sequence and a bounded backlog (count and bytes). The shell (sessions-host.ts) issues certificates,
 * persists on `persist`, and carries out `deliver`/`notify`/`emit`; delivery outcomes come back as
 * `delivered`/`undeliverable` inputs. No I/O, no clock: the time is an argument.
 */
import type { ErrorCode } from '../core/errors.js';
import {
  SESSION_REF_PATTERN,
  type SessionEvents,
  type SessionMember,
  type SessionMessage,
  type SessionNotice,
} from './sessions-types.js';

const REF = new RegExp(SESSION_REF_PATTERN);

export const SESSION_TEXT_MAX_BYTES = 4096;
export const BACKLOG_MAX_MESSAGES = 1000;
export const BACKLOG_MAX_BYTES = 1024 * 1024;
export const SESSION_MAX_MEMBERS = 256;
/** Per-message bookkeeping counted against the byte bound besides text and sender. */
const MESSAGE_OVERHEAD_BYTES = 64;

export interface SessionConfig {
  maxMessages: number;
  maxBytes: number;
  maxMembers: number;
}

export const SESSION_DEFAULTS: SessionConfig = {
  maxMessages: BACKLOG_MAX_MESSAGES,
  maxBytes: BACKLOG_MAX_BYTES,
  maxMembers: SESSION_MAX_MEMBERS,
};

export interface HostedSession {
  id: string;
  hostPeerId: string;
  appId?: string;
  createdAt: number;
  state: 'open' | 'ended';
  endedAt?: number;
  members: ReadonlyMap<string, Readonly<SessionMember>>;
  seq: number;
  /** Messages with seq ≤ floorSeq are gone (fell out of the backlog, or lost in a restart). */
  floorSeq: number;
  backlog: readonly SessionMessage[];
  backlogBytes: number;
  /** Members the host removed, and when: they register again only with an invitation accepted later. */
  removed: ReadonlyMap<string, number>;
}

export type SessionInput =
  | { type: 'register'; peerId: string; certPem: string; nickname?: string }
  | { type: 'post'; from: string; text: unknown; ref?: unknown }
  | { type: 'delivered'; peerId: string; seq?: number }
  | { type: 'undeliverable'; peerId: string; reason: string }
  | { type: 'leave'; peerId: string }
  | { type: 'remove'; peerId: string }
  | { type: 'end' };

type Emit = {
  [K in keyof SessionEvents]: { type: 'emit'; event: K; data: SessionEvents[K] };
}[keyof SessionEvents];

export type SessionEffect =
  | { type: 'persist' }
  | { type: 'deliver'; peerId: string; message: SessionMessage }
  | { type: 'notify'; peerId: string; notice: SessionNotice }
  | { type: 'disconnected'; peerId: string; reason: string }
  | Emit;

export interface SessionStepError {
  code: ErrorCode;
  message: string;
  statusCode: number;
}

export interface SessionStep {
  state: HostedSession;
  effects: SessionEffect[];
  error?: SessionStepError;
  /** post: the message it sequenced. */
  message?: SessionMessage;
}

export function newSession(
  init: { id: string; hostPeerId: string; appId?: string },
  now: number,
  seq = 0,
): HostedSession {
  return {
    id: init.id,
    hostPeerId: init.hostPeerId,
    ...(init.appId === undefined ? {} : { appId: init.appId }),
    createdAt: now,
    state: 'open',
    members: new Map(),
    seq,
    floorSeq: seq,
    backlog: [],
    backlogBytes: 0,
    removed: new Map(),
  };
}

function fail(s: HostedSession, code: ErrorCode, message: string, statusCode: number): SessionStep {
  return { state: s, effects: [], error: { code, message, statusCode } };
}

export function messageBytes(m: { from: string; text: string; ref?: string }): number {
  return Buffer.byteLength(m.text, 'utf8') + m.from.length + (m.ref?.length ?? 0) + MESSAGE_OVERHEAD_BYTES;
}

/** Refusals shared by every input from a peer: unknown session state, non-members. */
function guard(s: HostedSession, peerId: string | null): SessionStep | null {
  if (s.state === 'ended') return fail(s, 'PH_ERR_SESSION_ENDED', `session ${s.id} has ended`, 409);
  if (peerId !== null && peerId !== s.hostPeerId && !s.members.has(peerId)) {
    return fail(s, 'PH_ERR_SESSION_NOT_MEMBER', `${peerId} is not a member of session ${s.id}`, 403);
  }
  return null;
}

function withMembers(s: HostedSession, fn: (m: Map<string, Readonly<SessionMember>>) => void): HostedSession {
  const members = new Map(s.members);
  fn(members);
  return { ...s, members };
}

function tellOthers(s: HostedSession, except: string, notice: SessionNotice): SessionEffect[] {
  return [...s.members.keys()]
    .filter((p) => p !== except)
    .map((peerId) => ({ type: 'notify', peerId, notice }));
}

function register(
  s: HostedSession,
  ev: Extract<SessionInput, { type: 'register' }>,
  now: number,
  cfg: SessionConfig,
): SessionStep {
  const bad = guard(s, null);
  if (bad) return bad;
  if (ev.peerId === s.hostPeerId) {
    return fail(s, 'PH_ERR_BAD_REQUEST', 'the host does not register with its own session', 400);
  }
  const old = s.members.get(ev.peerId);
  if (!old && s.members.size >= cfg.maxMembers) {
    return fail(s, 'PH_ERR_SESSION_FULL', `session ${s.id} has ${cfg.maxMembers} members`, 409);
  }
  const nickname = ev.nickname ?? old?.nickname;
  const member: SessionMember = {
    peerId: ev.peerId,
    ...(nickname === undefined ? {} : { nickname }),
    registeredAt: old?.registeredAt ?? now,
    certPem: ev.certPem,
    connected: true,
    lastAckSeq: old?.lastAckSeq ?? s.seq,
  };
  const state = withMembers(s, (m) => m.set(ev.peerId, member));
  if (old) return { state, effects: [{ type: 'persist' }] }; // renewal: a fresh certificate, no news
  const who = { sessionId: s.id, peerId: ev.peerId, ...(nickname === undefined ? {} : { nickname }) };
  return {
    state,
    effects: [
      { type: 'persist' },
      { type: 'emit', event: 'session:member-joined', data: who },
      ...tellOthers(s, ev.peerId, { type: 'member-joined', ...who, at: now }),
    ],
  };
}

function post(
  s: HostedSession,
  ev: Extract<SessionInput, { type: 'post' }>,
  now: number,
  cfg: SessionConfig,
): SessionStep {
  const bad = guard(s, ev.from);
  if (bad) return bad;
  if (typeof ev.text !== 'string' || ev.text.length === 0) {
    return fail(s, 'PH_ERR_BAD_REQUEST', 'text must be a non-empty string', 400);
  }
  const size = Buffer.byteLength(ev.text, 'utf8');
  if (size > SESSION_TEXT_MAX_BYTES) {
    const why = `text is ${size} bytes, at most ${SESSION_TEXT_MAX_BYTES}`;
    return fail(s, 'PH_ERR_SESSION_TEXT_TOO_LARGE', why, 413);
  }
  const { ref } = ev;
  if (ref !== undefined && (typeof ref !== 'string' || !REF.test(ref))) {
    return fail(s, 'PH_ERR_BAD_REQUEST', 'ref must be 8–64 characters of A–Z, a–z, 0–9, - and _', 400);
  }
  if (ref !== undefined) {
    // The same post again (its answer was lost on the way back): the message it already is, no copy.
    // Only while it is in the backlog; a key older than that is a new message.
    for (let i = s.backlog.length - 1; i >= 0; i--) {
      const m = s.backlog[i] as SessionMessage;
      if (m.ref === ref && m.from === ev.from) return { state: s, effects: [], message: m };
    }
  }
  const message: SessionMessage = {
    sessionId: s.id,
    seq: s.seq + 1,
    from: ev.from,
    text: ev.text,
    at: now,
    ...(ref === undefined ? {} : { ref }),
  };
  const backlog = [...s.backlog, message];
  let bytes = s.backlogBytes + messageBytes(message);
  let drop = 0;
  while (backlog.length - drop > cfg.maxMessages || (bytes > cfg.maxBytes && backlog.length - drop > 1)) {
    bytes -= messageBytes(backlog[drop] as SessionMessage);
    drop++;
  }
  const kept = drop === 0 ? backlog : backlog.slice(drop);
  const floorSeq = drop === 0 ? s.floorSeq : (kept[0] as SessionMessage).seq - 1;
  const state: HostedSession = { ...s, seq: message.seq, backlog: kept, backlogBytes: bytes, floorSeq };
  const effects: SessionEffect[] = [{ type: 'emit', event: 'session:message', data: message }];
  for (const peerId of s.members.keys()) effects.push({ type: 'deliver', peerId, message });
  return { state, effects, message };
}

function departure(s: HostedSession, peerId: string, reason: 'left' | 'removed', now: number): SessionStep {
  const bad = guard(s, null);
  if (bad) return bad;
  if (!s.members.has(peerId)) {
    return fail(s, 'PH_ERR_SESSION_NOT_MEMBER', `${peerId} is not a member of session ${s.id}`, 404);
  }
  const left = withMembers(s, (m) => m.delete(peerId));
  const state = reason === 'removed' ? { ...left, removed: new Map(s.removed).set(peerId, now) } : left;
  const notice: SessionNotice = { type: 'member-left', sessionId: s.id, peerId, reason, at: now };
  const effects: SessionEffect[] = [
    { type: 'persist' },
    { type: 'emit', event: 'session:member-left', data: { sessionId: s.id, peerId, reason } },
    ...tellOthers(s, peerId, notice),
  ];
  if (reason === 'removed') effects.push({ type: 'notify', peerId, notice });
  return { state, effects };
}

function connection(
  s: HostedSession,
  peerId: string,
  fn: (m: SessionMember) => SessionMember,
): HostedSession {
  const m = s.members.get(peerId);
  return m ? withMembers(s, (ms) => ms.set(peerId, fn({ ...m }))) : s;
}

export function stepSession(
  s: HostedSession,
  ev: SessionInput,
  now: number,
  cfg: SessionConfig,
): SessionStep {
  switch (ev.type) {
    case 'register':
      return register(s, ev, now, cfg);
    case 'post':
      return post(s, ev, now, cfg);
    case 'delivered': {
      const m = s.members.get(ev.peerId);
      if (!m) return { state: s, effects: [] };
      const state = connection(s, ev.peerId, (x) => ({
        ...x,
        connected: true,
        lastAckSeq: Math.max(x.lastAckSeq, ev.seq ?? x.lastAckSeq),
      }));
      return { state, effects: [] };
    }
    case 'undeliverable': {
      const m = s.members.get(ev.peerId);
      if (!m?.connected) return { state: s, effects: [] };
      const state = connection(s, ev.peerId, (x) => ({ ...x, connected: false }));
      return { state, effects: [{ type: 'disconnected', peerId: ev.peerId, reason: ev.reason }] };
    }
    case 'leave':
      return departure(s, ev.peerId, 'left', now);
    case 'remove':
      return departure(s, ev.peerId, 'removed', now);
    case 'end': {
      const bad = guard(s, null);
      if (bad) return bad;
      const notice: SessionNotice = { type: 'ended', sessionId: s.id, at: now };
      const effects: SessionEffect[] = [
        { type: 'persist' },
        { type: 'emit', event: 'session:ended', data: { sessionId: s.id } },
        ...tellOthers(s, s.hostPeerId, notice),
      ];
      return { state: { ...s, state: 'ended', endedAt: now }, effects };
    }
  }
}

/**
 * What a member missed after `afterSeq`: the backlog's tail, or an error when some of it is gone
 * (PH_ERR_SESSION_BACKLOG_GONE: the member must resync) or `afterSeq` is ahead of the host.
 */
export function missedSince(
  s: HostedSession,
  peerId: string,
  afterSeq: unknown,
): { messages: SessionMessage[] } | { error: SessionStepError } {
  const bad = guard(s, peerId);
  if (bad?.error && !(bad.error.code === 'PH_ERR_SESSION_ENDED' && s.members.has(peerId))) {
    return { error: bad.error };
  }
  if (typeof afterSeq !== 'number' || !Number.isInteger(afterSeq) || afterSeq < 0 || afterSeq > s.seq) {
    const message = `afterSeq must be an integer in 0..${s.seq} (got ${String(afterSeq)})`;
    return { error: { code: 'PH_ERR_BAD_REQUEST', message, statusCode: 400 } };
  }
  if (afterSeq < s.floorSeq) {
    const message = `messages ${afterSeq + 1}..${s.floorSeq} of session ${s.id} are gone: resync`;
    return { error: { code: 'PH_ERR_SESSION_BACKLOG_GONE', message, statusCode: 410 } };
  }
  return { messages: s.backlog.filter((m) => m.seq > afterSeq) };
}
