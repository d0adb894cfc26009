/**
 * The verification of one (announced peer id, endpoint) pair, pure: `(state, event, now) → {state, effects}`.
 * queued → checking → verified | spoof | unreachable (→ queued again after a back-off).
 */
export type VerifyPhase = 'queued' | 'checking' | 'verified' | 'spoof' | 'unreachable';

export interface VerifyState {
  phase: VerifyPhase;
  attempts: number; // consecutive failed checks
  token: number; // identifies the check in flight; stale results are ignored
  since: number; // when the phase was entered
  presented: string | null; // spoof: the peer id the endpoint proved instead
  reason: string | null; // unreachable: the last failure
  retryAt: number | null; // unreachable: when the next check is due (null: gave up)
}

/** What one check told us (see `classify`). */
export type CheckOutcome =
  | { kind: 'verified' }
  | { kind: 'spoof'; presented: string }
  /** busy: no answer in time (the peer, or this hub, is overloaded): retried after busyRetryMs. */
  | { kind: 'failed'; reason: string; busy?: boolean };

export type VerifyEvent =
  | { type: 'seen' } // found (again), or a new endpoint for the id: check (again)
  | { type: 'begin' } // a worker slot is free for it
  | { type: 'result'; token: number; outcome: CheckOutcome }
  | { type: 'retry' } // the back-off timer fired
  | { type: 'lost' }; // no row announces this pair any more

export type VerifyEffect =
  | { type: 'enqueue' }
  | { type: 'check'; token: number }
  | { type: 'schedule'; at: number }
  | { type: 'cancel' }
  | { type: 'verified' }
  | { type: 'spoof'; presented: string };

export interface VerifyConfig {
  retryMs: number;
  busyRetryMs?: number; // default retryMs
  maxAttempts: number;
}

export const VERIFY_DEFAULTS = {
  concurrency: 4,
  retryMs: 30_000,
  /**
   * First retry after a check that got no answer in time. A time-out means the peer (or this hub) is
   * too busy to finish a handshake; retrying it soon adds another handshake to the load that made it
   * late. On the 50-hub lab (2 cores), a 3 s retry and a 5 s connect time-out had hubs abandoning two
   * handshakes out of three for over a minute — each abandoned one already paid for on both sides.
   */
  busyRetryMs: 30_000,
  maxAttempts: 8,
  checkTimeoutMs: 20_000,
  maxTargets: 1024,
  /**
   * A pair proven this recently is shown verified at once when it is announced again: a hub that drops
   * out of the table for a moment (a lost packet, or on a crowded LAN a hub too busy to answer queries
   * for a few seconds) is not handshaken again by every hub at once — on the 50-hub lab that stampede
   * kept the lost hub too busy to answer, so it was lost again, once a minute. A pair that stays in the
   * table is not checked again either.
   */
  rememberMs: 300_000,
};
/** The back-off doubles from retryMs up to this factor. */
export const MAX_BACKOFF_FACTOR = 16;

export function retryDelay(attempts: number, retryMs: number): number {
  return retryMs * Math.min(MAX_BACKOFF_FACTOR, 2 ** Math.max(0, attempts - 1));
}

export function initialVerifyState(now: number): VerifyState {
  return { phase: 'queued', attempts: 0, token: 0, since: now, presented: null, reason: null, retryAt: null };
}

type Step = { state: VerifyState | null; effects: VerifyEffect[] };

export function step(s: VerifyState, ev: VerifyEvent, now: number, cfg: VerifyConfig): Step {
  const same: Step = { state: s, effects: [] };
  switch (ev.type) {
    case 'seen':
      if (s.phase === 'checking' || s.phase === 'queued') return same;
      return {
        state: {
          ...s,
          phase: 'queued',
          attempts: 0,
          since: now,
          presented: null,
          reason: null,
          retryAt: null,
        },
        effects: [{ type: 'cancel' }, { type: 'enqueue' }],
      };
    case 'begin':
      if (s.phase !== 'queued') return same;
      return {
        state: { ...s, phase: 'checking', token: s.token + 1, since: now },
        effects: [{ type: 'check', token: s.token + 1 }],
      };
    case 'retry':
      if (s.phase !== 'unreachable' || s.retryAt === null) return same;
      // A timer may fire a millisecond before the wall clock reaches retryAt: wait again, never drop it.
      if (now < s.retryAt) return { state: s, effects: [{ type: 'schedule', at: s.retryAt }] };
      return { state: { ...s, phase: 'queued', since: now, retryAt: null }, effects: [{ type: 'enqueue' }] };
    case 'lost':
      return { state: null, effects: [{ type: 'cancel' }] };
    case 'result':
      if (s.phase !== 'checking' || ev.token !== s.token) return same;
      return settle(s, ev.outcome, now, cfg);
  }
}

function settle(s: VerifyState, o: CheckOutcome, now: number, cfg: VerifyConfig): Step {
  const base = { ...s, since: now, presented: null, reason: null, retryAt: null };
  if (o.kind === 'verified') {
    return { state: { ...base, phase: 'verified', attempts: 0 }, effects: [{ type: 'verified' }] };
  }
  if (o.kind === 'spoof') {
    // A proof, not a failure: no retry until the peer is found again or its endpoints change.
    return {
      state: { ...base, phase: 'spoof', attempts: 0, presented: o.presented },
      effects: [{ type: 'spoof', presented: o.presented }],
    };
  }
  const attempts = s.attempts + 1;
  const state: VerifyState = { ...base, phase: 'unreachable', attempts, reason: o.reason };
  if (attempts >= cfg.maxAttempts) return { state, effects: [] };
  const at = now + retryDelay(attempts, o.busy ? (cfg.busyRetryMs ?? cfg.retryMs) : cfg.retryMs);
  return { state: { ...state, retryAt: at }, effects: [{ type: 'schedule', at }] };
}

/**
 * Classify a proof (a TLS handshake): resolved proving `claimed` → verified; PH_ERR_PEER_SPOOF → spoof
 * (the presented id from the error's `presented`, else its message); anything else → failed.
 */
export function classify(
  claimed: string,
  r: { ok: true; proven: unknown } | { ok: false; error: unknown },
  canon: (id: string) => string = (id) => id,
): CheckOutcome {
  if (r.ok) {
    const id = r.proven;
    if (typeof id === 'string' && safeCanon(canon, id) === safeCanon(canon, claimed))
      return { kind: 'verified' };
    return { kind: 'failed', reason: 'the proof names another peer id' };
  }
  const e = r.error as { code?: unknown; presented?: unknown; message?: unknown } | null;
  if (e?.code === 'PH_ERR_PEER_SPOOF') {
    const fromMsg =
      typeof e.message === 'string' ? /presented peer id ([^\s,]+)/.exec(e.message)?.[1] : undefined;
    const presented = typeof e.presented === 'string' ? e.presented : (fromMsg ?? 'unknown');
    return { kind: 'spoof', presented };
  }
  const reason = typeof e?.code === 'string' ? e.code : e instanceof Error ? e.message : String(r.error);
  return e?.code === 'PH_ERR_PEER_TIMEOUT'
    ? { kind: 'failed', reason, busy: true }
    : { kind: 'failed', reason };
}

function safeCanon(canon: (id: string) => string, id: string): string {
  try {
    return canon(id);
  } catch {
    return id;
  }
}
