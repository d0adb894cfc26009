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
} from './constants.js';

export interface QueryState {
  nextAt: number | null;
  interval: number;
  sent: number;
}

export type QueryEvent =
  | { type: 'start'; random: number }
  | { type: 'tick' }
  | { type: 'asked' } // the question went out, not from this machine
  | { type: 'restart'; random: number } // a peer vanished: look again soon (1–2 s), then back off
  | { type: 'stop' };
export type QueryEffect = { type: 'send-query'; index: number };

export const initialQueryState = (): QueryState => ({
  nextAt: null,
  interval: QUERY_FIRST_INTERVAL,
  sent: 0,
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
      return { state: { nextAt: now + delay, interval: QUERY_FIRST_INTERVAL, sent: 0 }, effects: [] };
    }
    case 'tick':
      if (s.nextAt === null || now < s.nextAt) return { state: s, effects: [] };
      return {
        state: {
          nextAt: now + s.interval,
          interval: Math.min(s.interval * 2, QUERY_MAX_INTERVAL),
          sent: s.sent + 1,
        },
        effects: [{ type: 'send-query', index: s.sent }],
      };
    case 'restart': {
      // A peer expired without a goodbye (crash, or our own link was down): ask again soon, so that
      // hubs lost during an outage are found once it ends. Random 1–2 s spreads the hubs' queries,
      // and each one seen counts for the others ('asked').
      const at = now + Math.floor(QUERY_FIRST_INTERVAL * (1 + ev.random));
      if (s.nextAt !== null && s.nextAt <= at) return { state: s, effects: [] };
      return { state: { nextAt: at, interval: QUERY_FIRST_INTERVAL * 2, sent: s.sent }, effects: [] };
    }
    case 'asked':
      // Treated as sent now: the next one comes a doubled interval later, never sooner than planned.
      if (s.nextAt === null) return { state: s, effects: [] };
      return {
        state: {
          nextAt: Math.max(s.nextAt, now + s.interval),
          interval: Math.min(s.interval * 2, QUERY_MAX_INTERVAL),
          sent: s.sent,
        },
        effects: [],
      };
    case 'stop':
      return { state: initialQueryState(), effects: [] };
  }
}
