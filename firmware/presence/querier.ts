/**
 * The continuous browse query (RFC 6762 §5.2) as a pure state machine: first query after
 * 20–120 ms, then intervals of 1 s, 2 s, 4 s… capped at 60 minutes. The same question asked on the
 * link by someone else (or by our own cache refresh) counts as our query (§7.3, 'asked').
 */
import {
  QUERY_FIRST_INTERVAL,
  QUERY_INITIAL_DELAY_MAX,
  QUERY_INITIAL_DELAY_MIN,
  QUERY_MAX_INTERVAL,
  QUERY_RESTART_GAP,
} from './constants.js';

export interface QueryState {
  nextAt: number | null;
  interval: number;
  sent: number;
  restartedAt: number | null; // the last restart that took effect
}

export type QueryEvent =
  | { type: 'start'; random: number }
  | { type: 'tick' }
  | { type: 'asked' } // the question went out, not from this machine
  | { type: 'restart'; random: number } // peers expired: look again soon (1–2 s), then back off
  | { type: 'stop' };
export type QueryEffect = { type: 'send-query'; index: number };

export const initialQueryState = (): QueryState => ({
  nextAt: null,
  interval: QUERY_FIRST_INTERVAL,
  sent: 0,
  restartedAt: null,
});

export function queryStep(
  s: QueryState,
  ev: QueryEvent,
  now: number,
): { state: QueryState; effects: QueryEffect[] } {
  switch (ev.type) {
    case 'start': {
      const span = QUERY_INITIAL_DELAY_MAX - QUERY_INITIAL_DELAY_MIN;
      const delay = QUERY_INITIAL_DELAY_MIN + Math.floor(ev.random * span);
      return { state: { ...initialQueryState(), nextAt: now + delay }, effects: [] };
    }
    case 'tick':
      if (s.nextAt === null || now < s.nextAt) return { state: s, effects: [] };
      return {
        state: {
          ...s,
          nextAt: now + s.interval,
          interval: Math.min(s.interval * 2, QUERY_MAX_INTERVAL),
          sent: s.sent + 1,
        },
        effects: [{ type: 'send-query', index: s.sent }],
      };
    case 'restart': {
      // Records expired unrefreshed (our own link was down, or peers crashed): ask again soon, so that
      // hubs lost during an outage are found once it ends. Random 1–2 s spreads the hubs' queries, and
      // each one seen counts for the others ('asked'). At most one restart per QUERY_RESTART_GAP: on a
      // crowded, lossy LAN every hub restarting on every expiry kept the interval at 1–2 s for good.
      if (s.restartedAt !== null && now - s.restartedAt < QUERY_RESTART_GAP) return { state: s, effects: [] };
      const at = now + Math.floor(QUERY_FIRST_INTERVAL * (1 + ev.random));
      if (s.nextAt !== null && s.nextAt <= at) return { state: s, effects: [] };
      return {
        state: { ...s, nextAt: at, interval: QUERY_FIRST_INTERVAL * 2, restartedAt: now },
        effects: [],
      };
    }
    case 'asked':
      // Treated as sent now: the next one comes a doubled interval later, never sooner than planned.
      if (s.nextAt === null) return { state: s, effects: [] };
      return {
        state: {
          ...s,
          nextAt: Math.max(s.nextAt, now + s.interval),
          interval: Math.min(s.interval * 2, QUERY_MAX_INTERVAL),
        },
        effects: [],
      };
    case 'stop':
      return { state: initialQueryState(), effects: [] };
  }
}
