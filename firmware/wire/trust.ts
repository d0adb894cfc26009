/** The wire uses identity's one chain validation (DESIGN "Identity and trust"); nothing of its own. */
export { peerChainFromSocket, verifyChainDer } from '../identity/chain.js';
export type { VerifiedChain } from '../identity/chain.js';
