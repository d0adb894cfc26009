/** People Near Me, verified (DESIGN "Identity and trust"): who nearby proved the id it announces. */
import type { Clock } from '../core/clock.js';
import type { Startable } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Emitter, NearbyPeer } from '../presence/types.js';
import type { PeerTarget } from '../wire/types.js';

/** A row of People Near Me as shown to the owner. */
export interface PeopleNearMeRow extends NearbyPeer {
  verified: boolean; // a TLS handshake to one of its endpoints proved `id`, and none proved another id
  spoof: boolean; // an endpoint announced `id` but proved another key: never shown as that person
  contact: boolean; // verified, and `id` is one of our contacts
  spoofedBy?: string; // the peer id the spoofing endpoint actually proved
}

export interface NearbyEvents {
  'peer:verified': { peer: PeopleNearMeRow };
  'peer:spoof': { claimed: string; presented: string; endpoint: string; instance: string };
}

export type PeerEventType = 'peer:found' | 'peer:changed' | 'peer:lost';

/** Where a proof goes: the peer id announced and exactly the endpoint that announced it. */
export type ProofTarget = PeerTarget;

export interface NearbyVerifierDeps {
  logger: Logger;
  clock: Clock;
  bus: Emitter<NearbyEvents>;
  peers(): NearbyPeer[];
  onPeerEvent(fn: (type: PeerEventType, peer: NearbyPeer) => void): () => void;
  /**
   * A TLS handshake to exactly this endpoint: resolves with the peer id it proved, rejects
   * PH_ERR_PEER_SPOOF (with `presented`) on another root.
   */
  prove(target: ProofTarget): Promise<{ peerId: string }>;
  isContact(peerId: string): boolean;
}

export interface NearbyVerifierInit {
  selfPeerId: string;
  concurrency?: number; // handshakes at once (4)
  retryMs?: number; // first retry of an unreachable endpoint (30 s), doubled up to 16×
  busyRetryMs?: number; // the same after a check that got no answer in time (30 s)
  maxAttempts?: number; // failed handshakes before giving up until the peer is found again (8)
  checkTimeoutMs?: number; // a handshake slower than this counts as unreachable (20 s)
  maxTargets?: number; // (peer id, endpoint) pairs tracked at most (1024)
  rememberMs?: number; // a pair proven this recently is verified again without a check when re-found (5 min)
}

export interface NearbyVerifier extends Startable {
  view(): PeopleNearMeRow[];
  /** The rows of one peer id (what `view()` has for it), without building the others. */
  rowsOf(peerId: string): PeopleNearMeRow[];
  counters(): Record<string, number>;
}
