/**
 * Invitation wire bodies: limits and schema-like checks (exact keys, types, sizes), and the results an
 * inbound handler hands to its route. Nothing here touches the store.
 */
import { randomBytes } from 'node:crypto';
import { PeerhubError, type ErrorCode } from '../core/errors.js';
import { parsePeerId } from '../identity/index.js';
import type {
  InviteOptions,
  Answer,
  AnswerBody,
  CancelBody,
  InboundResult,
  InvitationBody,
  RefusalBody,
} from './types.js';

export const LIMITS = {
  messageChars: 255,
  dataBytes: 16 * 1024,
  defaultTtlMs: 5 * 60_000,
  maxTtlMs: 60 * 60_000,
  minTtlMs: 1_000,
  idLength: 32,
} as const;

const ID = /^[0-9a-f]{32}$/;
/** Session and application ids: printable ASCII without spaces (their owners define the exact form). */
const TOKEN = /^[\x21-\x7e]{1,128}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function newInvitationId(): string {
  return randomBytes(16).toString('hex');
}

function bad(message: string, code: ErrorCode = 'PH_ERR_INVITATION_INVALID'): PeerhubError {
  return new PeerhubError(code, message, { statusCode: 400 });
}

function object(x: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw bad(`${what}: must be a JSON object`);
  const extra = Object.keys(x).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw bad(`${what}: unknown field ${JSON.stringify(extra[0])}`);
  return x as Record<string, unknown>;
}

export function checkId(x: unknown, what = 'id'): string {
  if (typeof x !== 'string' || !ID.test(x)) throw bad(`${what}: must be 32 lower-case hex digits`);
  return x;
}

export function checkToken(x: unknown, what: string): string {
  if (typeof x !== 'string' || !TOKEN.test(x))
    throw bad(`${what}: must be 1–128 printable characters without spaces`);
  return x;
}

export function checkMessage(x: unknown): string {
  if (typeof x !== 'string') throw bad('message: must be a string');
  // Characters = code points; reject before spreading a huge string.
  if (x.length > LIMITS.messageChars * 2 || [...x].length > LIMITS.messageChars) {
    throw bad(`message: at most ${LIMITS.messageChars} characters`);
  }
  return x;
}

export function checkData(x: unknown): string {
  if (x === undefined) return '';
  if (typeof x !== 'string') throw bad('data: must be a base64 string');
  if (x.length > Math.ceil(LIMITS.dataBytes / 3) * 4) throw bad(`data: at most ${LIMITS.dataBytes} bytes`);
  if (!BASE64.test(x)) throw bad('data: not canonical base64');
  if (Buffer.byteLength(x, 'base64') > LIMITS.dataBytes) throw bad(`data: at most ${LIMITS.dataBytes} bytes`);
  return x;
}

export function checkTtl(x: unknown, what = 'expiresInMs', min: number = LIMITS.minTtlMs): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x > LIMITS.maxTtlMs) {
    throw bad(`${what}: an integer from ${min} to ${LIMITS.maxTtlMs} ms`);
  }
  return x;
}

export function checkAnswer(x: unknown): Answer {
  if (x !== 'accepted' && x !== 'declined') throw bad('answer: "accepted" or "declined"');
  return x;
}

export function parseInvitationBody(x: unknown): InvitationBody {
  const o = object(x, 'invitation', ['id', 'sessionId', 'appId', 'message', 'data', 'expiresInMs']);
  const body: InvitationBody = {
    id: checkId(o.id),
    sessionId: checkToken(o.sessionId, 'sessionId'),
    message: checkMessage(o.message),
    data: checkData(o.data),
    // Time left when (re)sent: a retry late in the invitation's life may carry little.
    expiresInMs: checkTtl(o.expiresInMs, 'expiresInMs', 1),
  };
  if (o.appId !== undefined) body.appId = checkToken(o.appId, 'appId');
  return body;
}

/** The owner's `invite(peers, opts)`: canonical distinct peer ids (1–256), checked fields, the TTL. */
export function parseInviteOptions(
  peers: unknown,
  opts: InviteOptions,
): { peers: string[]; sessionId: string; appId?: string; message: string; data: string; ttlMs: number } {
  if (!Array.isArray(peers) || peers.length === 0 || peers.length > 256) throw bad('invite 1 to 256 peers');
  const ids = peers.map((p) => {
    try {
      return parsePeerId(p as string);
    } catch (e) {
      throw bad(`peer: ${(e as Error).message}`);
    }
  });
  const o = opts ?? ({} as InviteOptions);
  return {
    peers: [...new Set(ids)],
    sessionId: checkToken(o.sessionId, 'sessionId'),
    ...(o.appId === undefined ? {} : { appId: checkToken(o.appId, 'appId') }),
    message: checkMessage(o.message),
    data: checkData(o.data),
    ttlMs: checkTtl(o.expiresInMs ?? LIMITS.defaultTtlMs),
  };
}

export function parseAnswerBody(x: unknown): AnswerBody {
  const o = object(x, 'answer', ['id', 'answer']);
  return { id: checkId(o.id), answer: checkAnswer(o.answer) };
}

export function parseCancelBody(x: unknown): CancelBody {
  const o = object(x, 'cancel', ['id']);
  return { id: checkId(o.id) };
}

export function ok<T>(body: T): InboundResult<T> {
  return { ok: true, statusCode: 200, body };
}

export function refuse<T>(r: Omit<RefusalBody, 'statusCode'> & { statusCode?: number }): InboundResult<T> {
  const statusCode = r.statusCode ?? 400;
  return { ok: false, statusCode, body: { ...r, statusCode } };
}

/** A thrown error as a route result (PeerhubErrors keep their code; anything else is internal). */
export function refuseError<T>(e: unknown): InboundResult<T> {
  if (e instanceof PeerhubError)
    return refuse({ code: e.code, message: e.message, statusCode: e.statusCode });
  return refuse({ code: 'PH_ERR_INTERNAL', message: 'internal error', statusCode: 500 });
}

/**
 * For transports: turn a route result back into what the sender expects — the body, or for a refused
 * answer that carries the host's state (`PH_ERR_INVITATION_CLOSED`), that state; otherwise a thrown
 * PeerhubError with the route's code.
 */
export function settle<T>(r: InboundResult<T>): T {
  if (r.ok) return r.body;
  if (r.body.code === 'PH_ERR_INVITATION_CLOSED' && r.body.state) return { state: r.body.state } as T;
  throw new PeerhubError(r.body.code, r.body.message, { statusCode: r.statusCode });
}

/** Refusals that retrying cannot change: the invitation is failed at once. */
export const FINAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'PH_ERR_INVITE_FORBIDDEN',
  'PH_ERR_INVITATION_INVALID',
  'PH_ERR_BAD_REQUEST',
  'PH_ERR_BODY_TOO_LARGE',
  'PH_ERR_FORBIDDEN',
  'PH_ERR_UNAUTHENTICATED',
  'PH_ERR_PEER_SPOOF',
]);
