/**
 * Session membership certificates (DESIGN "Any node as CA"): the host's root certifies a member's root
 * key for one session (SAN `urn:peerhub:session:<id>`). Members present [member cert, host root] to the
 * host and to each other; both sides verify with the host as the only anchor.
 */
import { PeerhubError } from '../core/errors.js';
import { issueCertificate, peerIdFromPublicKey, verifyChain } from '../identity/index.js';
import type { VerifiedChain } from '../identity/index.js';

export interface HostCa {
  peerId: string;
  rootCertPem: string;
  /** Never logged. */
  rootKeyPem: string;
}

/** Issue the membership of `peerId` (whose root public key is `publicKeyPem`) in a session. */
export function issueMembership(
  ca: HostCa,
  init: { sessionId: string; peerId: string; publicKeyPem: string; now: number; validityMs?: number },
): { certPem: string; chainPem: string[] } {
  let keyPeer: string;
  try {
    keyPeer = peerIdFromPublicKey(init.publicKeyPem);
  } catch (e) {
    throw new PeerhubError('PH_ERR_BAD_REQUEST', 'register: the member public key is unreadable', {
      statusCode: 400,
      cause: e,
    });
  }
  if (keyPeer !== init.peerId) {
    throw new PeerhubError(
      'PH_ERR_SESSION_KEY_MISMATCH',
      `register: the key belongs to ${keyPeer}, not to the registering peer ${init.peerId}`,
      { statusCode: 403 },
    );
  }
  const certPem = issueCertificate({
    issuerCertPem: ca.rootCertPem,
    issuerKeyPem: ca.rootKeyPem,
    subjectPublicKeyPem: init.publicKeyPem,
    profile: 'session-member',
    now: init.now,
    extra: { sessionId: init.sessionId },
    ...(init.validityMs === undefined ? {} : { validityMs: init.validityMs }),
  });
  return { certPem, chainPem: [certPem, ca.rootCertPem] };
}

/**
 * Verify a membership chain: issued by `hostPeerId`'s root, for `sessionId`, valid at `now`. Throws the
 * chain's own PH_ERR_CHAIN_* code (another session, another host, expired, …).
 */
export function verifyMembership(
  chainPem: string[],
  opts: { now: number; hostPeerId: string; sessionId: string; clockSynchronised?: boolean },
): VerifiedChain {
  return verifyChain(chainPem, {
    now: opts.now,
    anchors: [{ peerId: opts.hostPeerId }],
    purpose: 'session-member',
    sessionId: opts.sessionId,
    ...(opts.clockSynchronised === undefined ? {} : { clockSynchronised: opts.clockSynchronised }),
  });
}
