/**
 * The invitation lifecycle, pure: `(record | null, event, now, cfg) → { state, effects, refused? }`.
 *
 * The host is the authority on the final state; the invitee's answer is provisional until the host
 * confirms it (`verdict`). Agreed outcomes:
 * - answer and cancel cross: the host recorded `cancelled` first, so it refuses the answer with
 *   `cancelled`, and the invitee (answer not yet confirmed) takes the cancel → both `cancelled`;
 * - answer after the host's expiry: the host expires first and refuses with `expired`; the invitee adopts
 *   it (the invitee's expiry is never earlier than the host's: it counts the time left from receipt);
 * - duplicate delivery (same id, same host): acknowledged with the current state, nothing duplicated;
 * - restarts: records are reloaded with their absolute expiry; what was being sent is sent again;
 * - two hubs inviting each other at once: two invitations with distinct ids, each with its own outcome;
 * - an answer never confirmed before expiry + grace: `failed` (the host saw no answer: `expired`, or,
 *   if only its reply was lost, `accepted`/`declined` — the one disagreement no protocol can rule out).
 */
import type { ErrorCode } from '../core/errors.js';
import type { Answer, Invitation, InvitationBody, InvitationEvents, InvitationState } from './types.js';

export type InvitationEvent =
  | {
      type: 'create';
      id: string;
      sessionId: string;
      peer: string;
      appId?: string;
      message: string;
      data: string;
      ttlMs: number;
    }
  | { type: 'delivered' } // our latest message (invitation or cancel) reached the peer
  | { type: 'deliveryFailed'; reason: string } // the shell gave up (retries exhausted, or refused for good)
  | { type: 'answerReceived'; answer: Answer }
  | { type: 'cancel' }
  | { type: 'tick' }
  | { type: 'received'; peer: string; body: InvitationBody }
  | { type: 'answer'; answer: Answer }
  | { type: 'verdict'; state: InvitationState } // the host's reply to our answer
  | { type: 'cancelReceived' };

export type InvitationEffect =
  | { type: 'send-invitation' }
  | { type: 'send-answer' }
  | { type: 'send-cancel' }
  | { type: 'emit'; event: keyof InvitationEvents }
  | { type: 'persist' }
  | { type: 'schedule'; at: number };

export interface Refusal {
  code: ErrorCode;
  message: string;
  statusCode: number;
  state?: InvitationState;
}

export interface InvitationStep {
  state: Invitation | null;
  effects: InvitationEffect[];
  refused?: Refusal;
  duplicate?: boolean;
}

export interface MachineConfig {
  /** How long past expiry an invitee keeps trying to deliver its answer. */
  answerGraceMs: number;
}

export const MACHINE_DEFAULTS: MachineConfig = { answerGraceMs: 30_000 };

export const EVENT_OF: Record<Exclude<InvitationState, 'pending'>, keyof InvitationEvents> = {
  accepted: 'invitation:answered',
  declined: 'invitation:answered',
  expired: 'invitation:expired',
  cancelled: 'invitation:cancelled',
  failed: 'invitation:failed',
};

/** When the shell must next look at a record (null: nothing left to wait for). */
export function deadline(r: Invitation, cfg: MachineConfig = MACHINE_DEFAULTS): number | null {
  if (r.state === 'pending') return r.expiresAt;
  if (
    r.direction === 'in' &&
    r.delivery === 'sending' &&
    (r.state === 'accepted' || r.state === 'declined')
  ) {
    return r.expiresAt + cfg.answerGraceMs;
  }
  return null;
}

/** Is an invitee's answer still waiting for the host's confirmation? */
function unconfirmed(r: Invitation): boolean {
  return (
    r.direction === 'in' && (r.state === 'accepted' || r.state === 'declined') && r.delivery !== 'delivered'
  );
}

function closed(r: Invitation, extra: Partial<Invitation> = {}): Refusal {
  const state = extra.state ?? r.state;
  return {
    code: 'PH_ERR_INVITATION_CLOSED',
    message: `invitation ${r.id} is already ${state}${(extra.reason ?? r.reason) ? ` (${extra.reason ?? r.reason})` : ''}`,
    statusCode: 409,
    state,
  };
}

function close(r: Invitation, state: Exclude<InvitationState, 'pending'>, extra: Partial<Invitation> = {}) {
  const next: Invitation = { ...r, ...extra, state };
  return {
    state: next,
    effects: [{ type: 'persist' }, { type: 'emit', event: EVENT_OF[state] }] as InvitationEffect[],
  };
}

const same = (r: Invitation | null): InvitationStep => ({ state: r, effects: [] });

export function stepInvitation(
  r: Invitation | null,
  ev: InvitationEvent,
  now: number,
  cfg: MachineConfig = MACHINE_DEFAULTS,
): InvitationStep {
  if (ev.type === 'create') {
    if (r)
      return {
        ...same(r),
        refused: { code: 'PH_ERR_INVITATION_INVALID', message: 'id in use', statusCode: 409 },
      };
    const { type: _t, ttlMs, ...fields } = ev;
    const inv: Invitation = {
      ...fields,
      direction: 'out',
      createdAt: now,
      expiresAt: now + ttlMs,
      state: 'pending',
      delivery: 'sending',
    };
    const at = inv.expiresAt;
    return {
      state: inv,
      effects: [{ type: 'persist' }, { type: 'send-invitation' }, { type: 'schedule', at }],
    };
  }
  if (ev.type === 'received') {
    if (r) {
      if (r.direction === 'in' && r.peer === ev.peer) return { ...same(r), duplicate: true };
      return {
        ...same(r),
        refused: { code: 'PH_ERR_INVITATION_INVALID', message: 'invitation id in use', statusCode: 409 },
      };
    }
    const b = ev.body;
    const inv: Invitation = {
      id: b.id,
      sessionId: b.sessionId,
      direction: 'in',
      peer: ev.peer,
      ...(b.appId === undefined ? {} : { appId: b.appId }),
      message: b.message,
      data: b.data ?? '',
      createdAt: now,
      expiresAt: now + b.expiresInMs,
      state: 'pending',
      delivery: 'delivered',
    };
    const effects: InvitationEffect[] = [
      { type: 'persist' },
      { type: 'emit', event: 'invitation:received' },
      { type: 'schedule', at: inv.expiresAt },
    ];
    return { state: inv, effects };
  }
  if (!r) return same(r);
  const expired = r.state === 'pending' && now >= r.expiresAt;
  const out = r.direction === 'out';

  switch (ev.type) {
    case 'tick':
      if (expired && out) {
        const delivery = r.delivery === 'sending' ? 'undeliverable' : r.delivery; // still trying: give up
        return close(r, 'expired', { reason: 'no answer in time', delivery });
      }
      if (expired) return close(r, 'expired', { reason: 'not answered in time' });
      if (unconfirmed(r) && r.delivery === 'sending' && now >= r.expiresAt + cfg.answerGraceMs) {
        return close(r, 'failed', { reason: 'answer not delivered to the host', delivery: 'undeliverable' });
      }
      return same(r);
    case 'delivered':
      if (!out || r.delivery !== 'sending') return same(r);
      return {
        state: { ...r, delivery: 'delivered' },
        effects:
          r.state === 'pending'
            ? [{ type: 'persist' }, { type: 'emit', event: 'invitation:sent' }]
            : [{ type: 'persist' }],
      };
    case 'deliveryFailed':
      if (r.delivery !== 'sending') return same(r);
      if (out && r.state === 'pending')
        return close(r, 'failed', { reason: ev.reason, delivery: 'undeliverable' });
      if (out) return { state: { ...r, delivery: 'undeliverable' }, effects: [{ type: 'persist' }] }; // the cancel
      if (unconfirmed(r)) {
        return close(r, 'failed', {
          reason: `answer not delivered: ${ev.reason}`,
          delivery: 'undeliverable',
        });
      }
      return same(r);
    case 'answerReceived': {
      if (!out) return same(r);
      if (expired) {
        const step = close(r, 'expired', { reason: 'no answer in time' });
        return { ...step, refused: closed(step.state) };
      }
      if (r.state === ev.answer) return same(r); // a repeated answer: confirmed again
      if (r.state !== 'pending') return { ...same(r), refused: closed(r) };
      return close(r, ev.answer, { answeredAt: now, delivery: 'delivered' });
    }
    case 'cancel': {
      if (!out)
        return {
          ...same(r),
          refused: {
            code: 'PH_ERR_INVITATION_INVALID',
            message: 'only the host cancels an invitation',
            statusCode: 400,
          },
        };
      if (expired) {
        const step = close(r, 'expired', { reason: 'no answer in time' });
        return { ...step, refused: closed(step.state) };
      }
      if (r.state !== 'pending') return { ...same(r), refused: closed(r) };
      const step = close(r, 'cancelled', { reason: 'cancelled by the host', delivery: 'sending' });
      return { ...step, effects: [...step.effects, { type: 'send-cancel' }] };
    }
    case 'answer': {
      if (out)
        return {
          ...same(r),
          refused: {
            code: 'PH_ERR_INVITATION_INVALID',
            message: 'the invitee answers, not the host',
            statusCode: 400,
          },
        };
      if (expired) {
        const step = close(r, 'expired', { reason: 'not answered in time' });
        return { ...step, refused: closed(step.state) };
      }
      if (r.state !== 'pending') return { ...same(r), refused: closed(r) };
      const step = close(r, ev.answer, { answeredAt: now, delivery: 'sending' });
      const at = r.expiresAt + cfg.answerGraceMs;
      return { ...step, effects: [...step.effects, { type: 'send-answer' }, { type: 'schedule', at }] };
    }
    case 'verdict': {
      if (out || ev.state === 'pending' || r.answeredAt === undefined) return same(r);
      if (ev.state === r.state) {
        return r.delivery === 'delivered'
          ? same(r)
          : { state: { ...r, delivery: 'delivered' }, effects: [{ type: 'persist' }] };
      }
      return close(r, ev.state, { reason: `the host recorded ${ev.state}`, delivery: 'delivered' });
    }
    case 'cancelReceived':
      if (out) return same(r);
      if (r.state === 'pending' || unconfirmed(r)) {
        return close(r, 'cancelled', { reason: 'cancelled by the host', delivery: 'delivered' });
      }
      return same(r);
  }
}
