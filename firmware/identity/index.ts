/** Identity: the peer is its root key (DESIGN "Identity and trust"). Factories and value helpers. */
export type { Identity, IdentityDeps, IdentityInit, KeyPairPem, RootCertificateInit } from './types.js';
export {
  base32,
  formatPeerId,
  isPeerId,
  luhn32,
  parseClassifier,
  parsePeerId,
  parsePeerName,
  peerIdFromSpki,
  peerName,
  shortId,
} from './peerid.js';
export {
  checkRootPair,
  createRootCertificate,
  generateRootKeyPair,
  peerIdFromCertificate,
  peerIdFromPublicKey,
  ROOT_KEY_BITS,
  ROOT_NOT_AFTER,
  ROOT_NOT_BEFORE_FLOOR,
  ROOT_PATH_LEN,
  RootCheckError,
  rootValidity,
} from './cert.js';
export type { RootInfo } from './cert.js';
export { identityPaths, IDENTITY_DIR, loadOrCreateIdentity, ROOT_CERT_FILE, ROOT_KEY_FILE } from './files.js';
export type { IdentityPaths } from './files.js';
export {
  BACKDATE_MS,
  childValidity,
  issueCertificate,
  MIN_SUBJECT_RSA_BITS,
  PEER_URI_PREFIX,
  PROFILE_VALIDITY_MS,
  SESSION_URI_PREFIX,
} from './issue.js';
export type { CertProfile, IssueInit } from './issue.js';
export {
  CLOCK_SANE_FLOOR,
  MAX_CHAIN_DEPTH,
  MIN_RSA_BITS,
  peerChainFromSocket,
  UNSYNCHRONISED_GRACE_MS,
  verifyChain,
  verifyChainDer,
} from './chain.js';
export type { ChainPurpose, TrustAnchor, VerifiedChain, VerifyOptions } from './chain.js';
export {
  TLS_CERT_FILE,
  TLS_CHECK_INTERVAL_MS,
  TLS_KEY_FILE,
  TLS_RENEW_BEFORE_MS,
  TLS_RETRY_MS,
  TLS_VALIDITY_MS,
  TlsCertificates,
} from './tls.js';
export type { TlsCertificatesDeps, TlsCertificatesInit, TlsCredentials } from './tls.js';
