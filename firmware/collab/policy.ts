/**
 * Who may invite this hub (issue 4): `contacts` (default), `nearby` — anyone on the subnet (and
 * contacts) until a moment, like AirDrop's "everyone for 10 minutes", then back to contacts — or
 * `nobody`; plus a per-inviter token bucket. `decide` is pure; `createInvitePolicy` holds the setting
 * and the buckets and reads time from the injected clock.
 */
import type { Clock } from '../core/clock.js';
import { PeerhubError, type ErrorCode } from '../core/errors.js';
import { TokenBuckets, type RateLimit } from '../wire/index.js';
import type { InvitePolicy } from './types.js';

export type InviteMode = { mode: 'contacts' } | { mode: 'nearby'; until: number } | { mode: 'nobody' };

export interface PolicyDeps {
  clock: Clock;
  /** A contact this hub accepts (not blocked). */
  isContact(peerId: string): boolean;
  /** Seen (verified) on the subnet right now. */
  isNearby(peerId: string): boolean;
}

export interface PolicyInit {
  mode?: InviteMode;
  /** Invitations per inviter: 10 a minute, bursts of 5. */
  rate?: { perMinute?: number; burst?: number };
}

export const POLICY_DEFAULTS = {
  perMinute: 10,
  burst: 5,
  nearbyMaxMs: 60 * 60_000,
  nearbyDefaultMs: 10 * 60_000,
};

export type Refusal = { code: ErrorCode; message: string };

/** The mode in force at `now`: a `nearby` window that has ended reads as `contacts`. */
export function effectiveMode(m: InviteMode, now: number): InviteMode {
  return m.mode === 'nearby' && now >= m.until ? { mode: 'contacts' } : m;
}

/** Pure: may `peerId` invite under `m` at `now`? (Rate limits are applied after this.) */
export function decide(
  m: InviteMode,
  peerId: string,
  now: number,
  who: Pick<PolicyDeps, 'isContact' | 'isNearby'>,
): Refusal | null {
  const mode = effectiveMode(m, now);
  if (mode.mode === 'nobody') {
    return { code: 'PH_ERR_INVITE_FORBIDDEN', message: 'this hub accepts no invitations right now' };
  }
  if (who.isContact(peerId)) return null;
  if (mode.mode === 'nearby' && who.isNearby(peerId)) return null;
  return {
    code: 'PH_ERR_INVITE_FORBIDDEN',
    message:
      mode.mode === 'nearby'
        ? 'this hub accepts invitations from contacts and peers on its subnet only'
        : 'this hub accepts invitations from its contacts only',
  };
}

/** Check a mode given by the owner (control API / CLI); `nearby` is bounded to an hour from now. */
export function checkMode(x: unknown, now: number): InviteMode {
  const m = x as { mode?: unknown; until?: unknown } | null;
  const bad = (msg: string) =>
    new PeerhubError('PH_ERR_BAD_REQUEST', `invitation policy: ${msg}`, { statusCode: 400 });
  if (!m || typeof m !== 'object') throw bad('expected { mode }');
  if (m.mode === 'contacts' || m.mode === 'nobody') return { mode: m.mode };
  if (m.mode !== 'nearby') throw bad('mode is "contacts", "nearby" or "nobody"');
  const until = m.until === undefined ? now + POLICY_DEFAULTS.nearbyDefaultMs : m.until;
  if (typeof until !== 'number' || !Number.isFinite(until) || until <= now)
    throw bad('"until" must be in the future');
  if (until - now > POLICY_DEFAULTS.nearbyMaxMs) throw bad('"nearby" lasts at most one hour');
  return { mode: 'nearby', until };
}

export interface InvitePolicyControl extends InvitePolicy {
  get(): InviteMode;
  set(mode: InviteMode): void;
}

export function createInvitePolicy(deps: PolicyDeps, init: PolicyInit = {}): InvitePolicyControl {
  let mode: InviteMode = init.mode ?? { mode: 'contacts' };
  const perMinute = init.rate?.perMinute ?? POLICY_DEFAULTS.perMinute;
  const limit: RateLimit = { perSecond: perMinute / 60, burst: init.rate?.burst ?? POLICY_DEFAULTS.burst };
  const buckets = new TokenBuckets(limit);
  return {
    get: () => effectiveMode(mode, deps.clock.now()),
    set(m) {
      mode = m;
    },
    check(peerId) {
      const now = deps.clock.now();
      const no = decide(mode, peerId, now, deps);
      if (no) return no;
      if (!buckets.take(peerId, now)) {
        return {
          code: 'PH_ERR_RATE_LIMITED',
          message: `too many invitations from this peer: retry in ${buckets.retryAfter(peerId)} s`,
        };
      }
      return null;
    },
  };
}
