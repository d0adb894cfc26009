/** Presence of contacts, pushed (issue 3): one event-stream subscription per followed contact. */
import type { Clock } from '../core/clock.js';
import type { Startable } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Emitter, PresenceStatus } from '../presence/types.js';
import type { PeerClient } from '../wire/index.js';
import type { ContactEvents, ContactManager } from './types.js';

export type LinkPhase = 'idle' | 'connecting' | 'online' | 'offline' | 'forbidden';

export interface LivePresence {
  status: PresenceStatus;
  text: string;
  seq: number;
}

export interface ContactPresenceView {
  online: boolean;
  presence: LivePresence | null; // last known (kept while offline; null when never seen or unfollowed)
  endpoint: string | null; // where the live subscription is (or was last)
  state: LinkPhase;
  since: number; // when `state` was entered
}

export interface ContactPresenceEvents {
  'contact:online': { peerId: string };
  'contact:offline': { peerId: string; reason: string };
}

export interface ContactPresenceDeps {
  logger: Logger;
  clock: Clock;
  bus: Emitter<ContactEvents & ContactPresenceEvents>;
  contacts: Pick<ContactManager, 'list' | 'get'>;
  /** Called on contact:added/updated/deleted (payload ignored: the list is re-read). */
  onContactsChanged(fn: () => void): () => void;
  /** People Near Me rows; verified ones are tried before a contact's stored endpoints. */
  nearby(): Array<{ id: string | null; endpoints: string[]; verified: boolean }>;
  client: Pick<PeerClient, 'request' | 'subscribe'>;
  /** PeerClient's `peer:unreachable` (keep-alive lost): reported offline at once. */
  onUnreachable(fn: (peerId: string, reason?: string) => void): () => void;
}

export interface ContactPresenceInit {
  retry?: { minMs?: number; maxMs?: number }; // back-off 1 s doubling to 30 s; forbidden retries at maxMs
  port?: number; // for endpoints without one (7443)
  maxConnecting?: number; // connection attempts at once (16)
}

export interface ContactPresence extends Startable {
  view(peerId: string): ContactPresenceView;
  views(): Array<ContactPresenceView & { peerId: string }>;
  /** The contact just appeared (verified) nearby: retry now if it is offline. */
  poke(peerId: string): void;
  /** The contact just subscribed to us (so it has added us): retry now, even after a refusal. */
  welcome(peerId: string): void;
}
