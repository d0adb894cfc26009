import type { BusEvent } from '../core/bus.js';
import type { Applications, Objects } from '../collab/apps-types.js';
import type { CollabControl } from './collab-types.js';
import type { ContactsControl } from './contacts-types.js';
import type { PanelControl } from './panel-routes.js';
import type { Logger } from '../core/logger.js';
import type { LocalPresenceState } from '../me/types.js';
import type { NearbyPeer, PresenceStatus, Scope } from '../presence/types.js';

/** What `GET /v1/status` answers (and `peerhub status --json` prints unchanged). */
export interface StatusView {
  id: string;
  shortId: string;
  peerName: string;
  nickname: string;
  classifier: string;
  scope: Scope;
  presence: { status: PresenceStatus; text: string; seq: number };
  mdns: { backend: string; instance: string | null; host: string; interface: string | null };
  port: number;
  version: string;
  pid: number;
  uptimeMs: number;
  /** From the process's start to `agent ready`: wall time and CPU (user + system), ms. */
  startup?: StartupView;
  counters: Record<string, number>;
  memory?: Record<string, number>; // MB: rss, heapTotal, heapUsed, external, arrayBuffers
  /** The host's network interfaces (loopback left out): addresses in CIDR form. */
  interfaces?: InterfaceView[];
  /** How much the hub knows: People Near Me rows (verified), contacts, invitations, sessions. */
  counts?: StatusCounts;
}

export interface StartupView {
  readyMs: number;
  cpuMs: number;
}

export interface InterfaceView {
  name: string;
  addresses: string[]; // "10.77.0.2/24", "fe80::1/64"
  mac: string | null;
}

export interface StatusCounts {
  peers: number;
  verifiedPeers: number;
  contacts: number;
  invitations: number;
  pendingInvitations: number;
  sessions: number;
  openSessions: number;
}

/** A row of People Near Me as the user sees it: the mDNS view plus what the TLS handshake proved. */
export type PeerRow = NearbyPeer & {
  verified: boolean; // the peer API handshake proved this id
  spoof: boolean; // someone announced this id with another key
  contact: boolean; // one of my contacts
};

/** The agent as the control API sees it: a view and the actions a user can take. */
export interface ControlDeps {
  logger: Logger;
  events: {
    since(id: number): BusEvent[];
    onAny(fn: (ev: BusEvent) => void): () => void;
    readonly lastId: number;
  };
  status(): StatusView;
  peers(): PeerRow[];
  contacts?: ContactsControl;
  collab?: { apps: Applications; objects: Objects };
  /** Host requests, invitations, sessions, policy (firmware/collab/control.ts). */
  collaboration?: CollabControl;
  panel?: PanelControl;
  setPresence(status: PresenceStatus, text?: string): Promise<LocalPresenceState>;
  signIn(scope: Exclude<Scope, 'None'>): Promise<LocalPresenceState>;
  signOut(): Promise<LocalPresenceState>;
}
