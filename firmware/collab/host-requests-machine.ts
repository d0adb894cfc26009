/**
 * Host-request lifecycle, pure: `(record | null, event, now) → { state, effects, refused? }`.
 * Host side (in): received → pending → accepted | declined (owner or policy) | expired (no answer in
 * time; the requester is told). Requester side (out): pending → the host's answer | expired | failed.
 */
import type { ErrorCode } from '../core/errors.js';
import type { HostPolicy, HostRequest, HostRequestBody, HostRequestState } from './host-requests-types.js';

export type HostRequestEvent =
  | { type: 'received'; peer: string; body: HostRequestBody; ttlMs: number }
  | { type: 'create'; peer: string; body: HostRequestBody; ttlMs: number }
  | { type: 'answer'; answer: 'accepted' | 'declined'; sessionId?: string; reason?: string }
  | {
      type: 'answerReceived';
      state: 'accepted' | 'declined' | 'expired';
      sessionId?: string;
      reason?: string;
    }
  | { type: 'failed'; reason: string }
  | { type: 'tick' };

export type HostRequestEffect =
  | { type: 'emit'; event: 'host-request:received' | 'host-request:answered' }
  | { type: 'send-answer' }
  | { type: 'settle' } // resolve the requester's promise
  | { type: 'schedule'; at: number };

export interface HostRequestStep {
  state: HostRequest | null;
  effects: HostRequestEffect[];
  refused?: { code: ErrorCode; message: string; statusCode: number };
  duplicate?: boolean;
}

/** What the owner's policy says about a new request. */
export function hostDecision(policy: HostPolicy, isContact: boolean): 'accept' | 'ask' | 'decline' {
  if (policy === 'never') return 'decline';
  return policy === 'auto-contacts' && isContact ? 'accept' : 'ask';
}

const same = (r: HostRequest | null): HostRequestStep => ({ state: r, effects: [] });

function fresh(
  direction: 'in' | 'out',
  peer: string,
  b: HostRequestBody,
  now: number,
  ttlMs: number,
): HostRequest {
  return {
    id: b.id,
    direction,
    peer,
    ...(b.appId === undefined ? {} : { appId: b.appId }),
    message: b.message,
    createdAt: now,
    expiresAt: now + ttlMs,
    state: 'pending',
  };
}

export function stepHostRequest(r: HostRequest | null, ev: HostRequestEvent, now: number): HostRequestStep {
  if (ev.type === 'received' || ev.type === 'create') {
    const dir = ev.type === 'received' ? 'in' : 'out';
    if (r) {
      if (r.direction === dir && r.peer === ev.peer) return { ...same(r), duplicate: true };
      return {
        ...same(r),
        refused: { code: 'PH_ERR_HOST_REQUEST_INVALID', message: 'id in use', statusCode: 409 },
      };
    }
    const s = fresh(dir, ev.peer, ev.body, now, ev.ttlMs);
    const effects: HostRequestEffect[] = [{ type: 'schedule', at: s.expiresAt }];
    if (dir === 'in') effects.unshift({ type: 'emit', event: 'host-request:received' });
    return { state: s, effects };
  }
  if (!r) return same(r);
  const expired = r.state === 'pending' && now >= r.expiresAt;
  const closed = (state: HostRequestState) => ({
    code: 'PH_ERR_HOST_REQUEST_CLOSED' as const,
    message: `host request ${r.id} is already ${state}`,
    statusCode: 409,
  });
  const answered: HostRequestEffect = { type: 'emit', event: 'host-request:answered' };
  switch (ev.type) {
    case 'tick':
    case 'answer':
    case 'answerReceived': {
      if (expired) {
        const s: HostRequest = { ...r, state: 'expired', reason: 'no answer in time', answeredAt: now };
        const effects: HostRequestEffect[] = [
          answered,
          r.direction === 'in' ? { type: 'send-answer' } : { type: 'settle' },
        ];
        return { state: s, effects, ...(ev.type === 'answer' ? { refused: closed('expired') } : {}) };
      }
      if (ev.type === 'tick') return same(r);
      if (ev.type === 'answer') {
        if (r.direction !== 'in')
          return { ...same(r), refused: { ...closed(r.state), message: 'only the host answers' } };
        if (r.state !== 'pending') return { ...same(r), refused: closed(r.state) };
        const s: HostRequest = {
          ...r,
          state: ev.answer,
          answeredAt: now,
          ...(ev.sessionId ? { sessionId: ev.sessionId } : {}),
          ...(ev.reason ? { reason: ev.reason } : {}),
        };
        return { state: s, effects: [answered, { type: 'send-answer' }] };
      }
      if (r.direction !== 'out' || r.state !== 'pending') return same(r);
      const s: HostRequest = {
        ...r,
        state: ev.state,
        answeredAt: now,
        ...(ev.sessionId ? { sessionId: ev.sessionId } : {}),
        ...(ev.reason ? { reason: ev.reason } : {}),
      };
      return { state: s, effects: [answered, { type: 'settle' }] };
    }
    case 'failed':
      if (r.direction !== 'out' || r.state !== 'pending') return same(r);
      return {
        state: { ...r, state: 'failed', reason: ev.reason, answeredAt: now },
        effects: [{ type: 'settle' }],
      };
  }
}
