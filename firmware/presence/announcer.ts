/**
 * Announcing (RFC 6762 §8.3, §8.4) as a pure state machine: ANNOUNCE_COUNT announcements, the
 * first at once, then 1 s, 2 s… apart. Restarted on every rdata change (TXT update).
 */
import { ANNOUNCE_COUNT, ANNOUNCE_FIRST_INTERVAL } from './constants.js';

export interface AnnounceState {
  phase: 'idle' | 'announcing' | 'announced';
  sent: number;
  nextAt: number | null;
}

export type AnnounceEvent = { type: 'start' } | { type: 'tick' } | { type: 'reset' };
export type AnnounceEffect = { type: 'send-announcement'; index: number; first: boolean };

export const initialAnnounceState = (): AnnounceState => ({ phase: 'idle', sent: 0, nextAt: null });

export function announceStep(
  s: AnnounceState,
  ev: AnnounceEvent,
  now: number,
): { state: AnnounceState; effects: AnnounceEffect[] } {
  switch (ev.type) {
    case 'start':
      return announceStep({ phase: 'announcing', sent: 0, nextAt: now }, { type: 'tick' }, now);
    case 'tick': {
      if (s.phase !== 'announcing' || s.nextAt === null || now < s.nextAt) return { state: s, effects: [] };
      const sent = s.sent + 1;
      const done = sent >= ANNOUNCE_COUNT;
      return {
        state: {
          phase: done ? 'announced' : 'announcing',
          sent,
          nextAt: done ? null : now + ANNOUNCE_FIRST_INTERVAL * 2 ** (sent - 1),
        },
        effects: [{ type: 'send-announcement', index: s.sent, first: s.sent === 0 }],
      };
    }
    case 'reset':
      return { state: initialAnnounceState(), effects: [] };
  }
}
