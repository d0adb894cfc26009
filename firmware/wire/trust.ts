/**
 * The wire uses identity's one chain validation (DESIGN "Identity and trust"); nothing of its own —
 * and one description of our side of a peer-API TLS session.
 */
import type { TlsCredentials } from './types.js';

export { peerChainFromSocket, verifyChainDer } from '../identity/chain.js';
export type { VerifiedChain } from '../identity/chain.js';

/** Our side of every peer-API TLS session, client or server: our key and chain, TLS 1.3 only. */
export const credentialOptions = (c: TlsCredentials) =>
  ({ key: c.keyPem, cert: c.chainPem.join('\n'), minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }) as const;
