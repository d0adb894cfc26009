/**
 * Probing (RFC 6762 §8.1–8.2) as a pure state machine: `(state, event, now) → { state, effects }`.
 * The shell builds the probe packet and renames on conflict; this decides only *when*.
 */
import {
  PROBE_COUNT,
  PROBE_DEFER,
  PROBE_INITIAL_DELAY_MAX,
  PROBE_INTERVAL,
  PROBE_RATE_CONFLICTS,
  PROBE_RATE_DELAY,
  PROBE_RATE_WINDOW,
} from './constants.js';

export interface ProbeState {
  phase: 'idle' | 'probing' | 'probed';
  sent: number;
  nextAt: number | null;
  conflicts: number[]; // times of recent conflicts, for the §8.1 rate limit
}

export type ProbeEvent =
  | { type: 'start'; random: number } // random in [0, 1): initial delay
  | { type: 'tick' }
  | { type: 'conflict' } // someone owns the name: the shell renames, then 'start' again
  | { type: 'lost-tiebreak' } // §8.2: defer one second and probe again
  | { type: 'reset' };

export type ProbeEffect = { type: 'send-probe'; index: number } | { type: 'probed' } | { type: 'rename' };

export const initialProbeState = (): ProbeState => ({ phase: 'idle', sent: 0, nextAt: null, conflicts: [] });

export function probeStep(
  s: ProbeState,
  ev: ProbeEvent,
  now: number,
): { state: ProbeState; effects: ProbeEffect[] } {
  switch (ev.type) {
    case 'start': {
      const recent = s.conflicts.filter((t) => now - t < PROBE_RATE_WINDOW);
      const delay =
        recent.length >= PROBE_RATE_CONFLICTS
          ? PROBE_RATE_DELAY
          : Math.floor(ev.random * PROBE_INITIAL_DELAY_MAX);
      return { state: { phase: 'probing', sent: 0, nextAt: now + delay, conflicts: recent }, effects: [] };
    }
    case 'tick': {
      if (s.phase !== 'probing' || s.nextAt === null || now < s.nextAt) return { state: s, effects: [] };
      if (s.sent < PROBE_COUNT) {
        return {
          state: { ...s, sent: s.sent + 1, nextAt: now + PROBE_INTERVAL },
          effects: [{ type: 'send-probe', index: s.sent }],
        };
      }
      return { state: { ...s, phase: 'probed', nextAt: null }, effects: [{ type: 'probed' }] };
    }
    case 'conflict':
      return {
        state: { phase: 'idle', sent: 0, nextAt: null, conflicts: [...s.conflicts, now] },
        effects: [{ type: 'rename' }],
      };
    case 'lost-tiebreak':
      if (s.phase !== 'probing') return { state: s, effects: [] };
      return { state: { ...s, sent: 0, nextAt: now + PROBE_DEFER }, effects: [] };
    case 'reset':
      return { state: { ...initialProbeState(), conflicts: s.conflicts }, effects: [] };
  }
}
