import type { Startable } from '../core/lifecycle.js';

/** The seed's 8 presence states (PeerPresenceStatus). */
export const PRESENCE_STATES = [
  'Offline',
  'OutToLunch',
  'Away',
  'BeRightBack',
  'Idle',
  'Busy',
  'OnThePhone',
  'Online',
] as const;
export type PresenceStatus = (typeof PRESENCE_STATES)[number];

/** Sign-in scopes (PeerScope). NearMe and All publish on the subnet. */
export const SCOPES = ['None', 'NearMe', 'Internet', 'All'] as const;
export type Scope = (typeof SCOPES)[number];

/** What we publish: one DNS-SD service instance of `_peerhub._tcp.local`. */
export interface Announcement {
  nickname: string; // preferred instance name; renamed `Nick (2)` on conflict
  peerId: string;
  status: PresenceStatus;
  seq: number; // presence sequence, bumped on every change
  port: number; // peer API port, announced in SRV
}

/** A row of People Near Me. */
export interface NearbyPeer {
  instance: string; // DNS-SD instance label, e.g. "Kitchen (2)"
  id: string | null; // peer id from TXT (null when not a peerhub record)
  nickname: string;
  status: PresenceStatus | 'Unknown';
  seq: number;
  host: string | null; // SRV target
  port: number | null;
  endpoints: string[]; // "10.77.0.2:7443"
  wellFormed: boolean; // false: non-peerhub or malformed TXT (shown, never trusted)
  txt: Record<string, string>;
  firstSeen: number;
  lastSeen: number;
}

export type LostReason = 'goodbye' | 'expired' | 'failure';

export interface PresenceEvents {
  'peer:found': NearbyPeer;
  'peer:changed': NearbyPeer;
  'peer:lost': { peer: NearbyPeer; reason: LostReason };
  'presence:renamed': { kind: 'instance' | 'host'; from: string; to: string };
  'presence:announced': { instance: string; host: string };
  'presence:withdrawn': { instance: string };
}

export interface Emitter<M> {
  emit<K extends keyof M & string>(type: K, data: M[K]): unknown;
}

export interface PresenceService extends Startable {
  readonly backend: 'multicast-dns' | 'avahi';
  /** Sign in / update: probe (first time), then announce; a changed status is announced at once. */
  announce(a: Announcement): void;
  /** Sign out: goodbye packets (TTL 0) for our records; keeps browsing. */
  withdraw(): Promise<void>;
  /** Our current names (after conflict renaming). */
  names(): { instance: string | null; host: string };
  peers(): NearbyPeer[];
  counters(): Record<string, number>;
}
