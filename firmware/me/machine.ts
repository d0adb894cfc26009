import type { Scope } from '../presence/types.js';
import type { LocalPresenceEffect, LocalPresenceEvent, LocalPresenceState } from './types.js';

/** Scopes that publish presence on the subnet (People Near Me). */
export function onSubnet(scope: Scope): boolean {
  return scope === 'NearMe' || scope === 'All';
}

export const INITIAL: LocalPresenceState = { scope: 'NearMe', status: 'Online', text: '', seq: 1 };

/**
 * Pure transition: (state, event) → { state, effects }.
 * Announce when something visible on the subnet changed; withdraw when leaving the subnet scope.
 */
export function step(
  s: LocalPresenceState,
  ev: LocalPresenceEvent,
): { state: LocalPresenceState; effects: LocalPresenceEffect[] } {
  switch (ev.type) {
    case 'signin': {
      if (ev.scope === s.scope) return { state: s, effects: onSubnet(s.scope) ? [{ type: 'announce' }] : [] };
      const state = { ...s, scope: ev.scope, seq: s.seq + 1 };
      const effects: LocalPresenceEffect[] = [{ type: 'persist' }];
      if (onSubnet(ev.scope)) effects.push({ type: 'announce' });
      else if (onSubnet(s.scope)) effects.push({ type: 'withdraw' });
      return { state, effects };
    }
    case 'signout': {
      if (s.scope === 'None') return { state: s, effects: [] };
      const effects: LocalPresenceEffect[] = [{ type: 'persist' }];
      if (onSubnet(s.scope)) effects.push({ type: 'withdraw' });
      return { state: { ...s, scope: 'None', seq: s.seq + 1 }, effects };
    }
    case 'set': {
      const text = ev.text ?? s.text;
      if (ev.status === s.status && text === s.text) return { state: s, effects: [] };
      const state = { ...s, status: ev.status, text, seq: s.seq + 1 };
      const effects: LocalPresenceEffect[] = [{ type: 'persist' }];
      if (onSubnet(s.scope)) effects.push({ type: 'announce' });
      return { state, effects };
    }
  }
}
