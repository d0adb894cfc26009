/**
 * The proof the verifier needs, on real sockets: one TLS handshake to exactly the announced endpoint,
 * closed at once (no shared session: a check of `id@endpoint` riding on a session opened to another
 * endpoint would make a spoofer's row look verified).
 */
import { proveEndpoint } from '../wire/index.js';
import type { PeerClientDeps } from '../wire/types.js';
import type { ProofTarget } from './types.js';

export type EndpointProverDeps = Omit<PeerClientDeps, 'events'> & Partial<Pick<PeerClientDeps, 'events'>>;

/**
 * `prove` for createNearbyVerifier: resolves with the peer id the endpoint proved; a spoof error
 * (PH_ERR_PEER_SPOOF) carries `presented`, the id it proved instead.
 */
export function createEndpointProver(
  deps: EndpointProverDeps,
  // A background check waits longer than a user's request (5 s to connect): under load a handshake given
  // up on is one both sides paid for and will pay for again (the verifier's own time-out, 20 s by
  // default, still bounds the whole check).
  connectTimeoutMs = 15_000,
): (target: ProofTarget) => Promise<{ peerId: string }> {
  const events = deps.events ?? { emit: () => undefined };
  return (target) => proveEndpoint({ ...deps, events }, target, connectTimeoutMs);
}
