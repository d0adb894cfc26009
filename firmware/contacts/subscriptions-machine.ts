/**
 * The presence link to one contact, pure: `(state, event, now, cfg) → {state, effects}`.
 * idle → connecting → online → offline (back-off) → connecting …; forbidden (the contact's hub said no)
 * retries slowly. Tokens tell the current connection attempt from stale callbacks.
 */
import type { LinkPhase, LivePresence } from './subscriptions-types.js';

export interface LinkState {
  phase: LinkPhase;
  since: number;
  attempts: number; // consecutive failures (back-off exponent)
  token: number; // the current connection attempt
  presence: LivePresence | null;
  presenceToken: number; // the attempt the presence came from (a new connection's snapshot wins)
  endpoint: string | null;
  lastEventId: number | null; // for `/v1/events?since=`
  retryAt: number | null;
  reason: string | null; // why offline / forbidden
}

export type LinkEvent =
  | { type: 'start' } // follow (contact allowed, service running)
  | { type: 'stop'; reason: string } // unfollow (removed, blocked)
  | { type: 'connected'; token: number; endpoint: string; presence: LivePresence } // subscribed + snapshot
  | { type: 'event'; token: number; eventId: number | null; presence: LivePresence | null } // pushed
  | { type: 'failed'; token: number; reason: string; forbidden: boolean } // attempt failed
  | { type: 'ended'; token?: number; reason: string } // stream ended / keep-alive lost
  | { type: 'retry' }
  | { type: 'poke' } // seen nearby again
  | { type: 'welcome' }; // it just subscribed to us: it has added us, so a refusal may be over

export type LinkEffect =
  | { type: 'connect'; token: number; since: number | null }
  | { type: 'close' }
  | { type: 'schedule'; at: number }
  | { type: 'cancel' }
  | { type: 'online' }
  | { type: 'offline'; reason: string }
  | { type: 'presence'; presence: LivePresence };

export interface LinkConfig {
  minMs: number;
  maxMs: number;
}

export const LINK_DEFAULTS = { minMs: 1000, maxMs: 30_000, port: 7443, maxConnecting: 16 };

export function backoff(attempts: number, cfg: LinkConfig): number {
  return Math.min(cfg.maxMs, cfg.minMs * 2 ** Math.max(0, attempts - 1));
}

export function initialLink(now: number): LinkState {
  return {
    phase: 'idle',
    since: now,
    attempts: 0,
    token: 0,
    presence: null,
    presenceToken: 0,
    endpoint: null,
    lastEventId: null,
    retryAt: null,
    reason: null,
  };
}

type Step = { state: LinkState; effects: LinkEffect[] };

function connecting(s: LinkState, now: number, extra: LinkEffect[] = []): Step {
  const token = s.token + 1;
  return {
    state: { ...s, phase: 'connecting', since: now, token, retryAt: null },
    effects: [...extra, { type: 'connect', token, since: s.lastEventId }],
  };
}

/** Take `p` if it is newer than what we have (or the first snapshot of a new connection). */
function absorb(s: LinkState, p: LivePresence, token: number, snapshot: boolean): Step {
  const cur = s.presence;
  const fresh = snapshot && s.presenceToken !== token;
  const newer = !cur || p.seq > cur.seq || (fresh && p.seq !== cur.seq);
  if (!newer) return { state: s, effects: [] };
  const changed = !cur || cur.status !== p.status || cur.text !== p.text || cur.seq !== p.seq;
  return {
    state: { ...s, presence: p, presenceToken: token },
    effects: changed ? [{ type: 'presence', presence: p }] : [],
  };
}

export function stepLink(s: LinkState, ev: LinkEvent, now: number, cfg: LinkConfig): Step {
  const same: Step = { state: s, effects: [] };
  const live = s.phase === 'connecting' || s.phase === 'online';
  switch (ev.type) {
    case 'start':
      return s.phase === 'idle' ? connecting({ ...s, attempts: 0 }, now) : same;
    case 'stop': {
      if (s.phase === 'idle') return same;
      const effects: LinkEffect[] = [{ type: 'cancel' }, { type: 'close' }];
      if (s.phase === 'online') effects.push({ type: 'offline', reason: ev.reason });
      const state = { ...initialLink(now), token: s.token + 1, reason: ev.reason };
      return { state, effects };
    }
    case 'connected': {
      if (s.phase !== 'connecting' || ev.token !== s.token) return same;
      const online: LinkState = {
        ...s,
        phase: 'online',
        since: now,
        attempts: 0,
        endpoint: ev.endpoint,
        reason: null,
      };
      const p = absorb(online, ev.presence, ev.token, true);
      return { state: p.state, effects: [{ type: 'online' }, ...p.effects] };
    }
    case 'event': {
      if (!live || ev.token !== s.token) return same;
      const seen = ev.eventId === null ? s : { ...s, lastEventId: Math.max(ev.eventId, s.lastEventId ?? 0) };
      return ev.presence ? absorb(seen, ev.presence, ev.token, false) : { state: seen, effects: [] };
    }
    case 'failed': {
      if (s.phase !== 'connecting' || ev.token !== s.token) return same;
      if (ev.forbidden) {
        const at = now + cfg.maxMs;
        const state: LinkState = { ...s, phase: 'forbidden', since: now, retryAt: at, reason: ev.reason };
        return { state, effects: [{ type: 'close' }, { type: 'schedule', at }] };
      }
      return offline(s, now, cfg, ev.reason, []);
    }
    case 'ended': {
      if (!live || (ev.token !== undefined && ev.token !== s.token)) return same;
      const told: LinkEffect[] = s.phase === 'online' ? [{ type: 'offline', reason: ev.reason }] : [];
      return offline(s.phase === 'online' ? { ...s, attempts: 0 } : s, now, cfg, ev.reason, told);
    }
    case 'retry':
      if ((s.phase !== 'offline' && s.phase !== 'forbidden') || s.retryAt === null) return same;
      // A timer may fire a millisecond before the wall clock reaches retryAt: wait again, never drop it.
      if (now < s.retryAt) return { state: s, effects: [{ type: 'schedule', at: s.retryAt }] };
      return connecting(s, now);
    case 'poke':
      return s.phase === 'offline' ? connecting(s, now, [{ type: 'cancel' }]) : same;
    case 'welcome':
      return s.phase === 'offline' || s.phase === 'forbidden'
        ? connecting(s, now, [{ type: 'cancel' }])
        : same;
  }
}

function offline(s: LinkState, now: number, cfg: LinkConfig, reason: string, told: LinkEffect[]): Step {
  const attempts = s.attempts + 1;
  const at = now + backoff(attempts, cfg);
  const state: LinkState = { ...s, phase: 'offline', since: now, attempts, retryAt: at, reason };
  return { state, effects: [{ type: 'close' }, ...told, { type: 'schedule', at }] };
}
