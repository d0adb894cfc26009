import type { PresenceStatus, Scope } from '../presence/types.js';

/** The local peer's presence as the owner sets it (seed: PeerCollaboration.LocalPresenceInfo). */
export interface LocalPresenceState {
  scope: Scope; // None = signed out
  status: PresenceStatus;
  text: string; // descriptive text (served over the peer API later)
  seq: number; // bumped on every change that peers can see
}

export type LocalPresenceEvent =
  | { type: 'signin'; scope: Exclude<Scope, 'None'> }
  | { type: 'signout' }
  | { type: 'set'; status: PresenceStatus; text?: string };

export type LocalPresenceEffect = { type: 'announce' } | { type: 'withdraw' } | { type: 'persist' };

export interface LocalPresenceEvents {
  'presence:changed': LocalPresenceState;
  'scope:changed': { from: Scope; to: Scope };
}
