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
