/**
 * The identity root: RSA-2048 key pair (Node's crypto) and a self-signed CA certificate (node-forge).
 * No file I/O here (STYLE 12, like Syncthing's tlsutil); files.ts stores and loads.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { forge, signCertificate } from './forge.js';
import { peerIdFromSpki } from './peerid.js';
import type { KeyPairPem, RootCertificateInit } from './types.js';

export const ROOT_KEY_BITS = 2048;
/** Room for session hosts and introductions below the root (DESIGN caps chains at 24). */
export const ROOT_PATH_LEN = 4;
/**
 * notBefore of a root. A Pi without RTC may start at 1970 or at its last shutdown time, and other hubs
 * may check our certificates with such clocks. A root made with a sane clock says 2020-01-01 (before
 * any real first start); one made while the clock reads earlier than that says 1970-01-01T00:00:00Z,
 * so it is valid at any clock the device can show. Never `now` itself: a clock that jumps back after a
 * reboot would otherwise see a root "not yet valid".
 */
export const ROOT_NOT_BEFORE_FLOOR = Date.UTC(2020, 0, 1);
/** After 2049, so encoded as GeneralizedTime (forge switches at 2050). */
export const ROOT_NOT_AFTER = Date.UTC(2100, 0, 1);

const generateKeyPairAsync = promisify(generateKeyPair);

export function rootValidity(now: number): { notBefore: Date; notAfter: Date } {
  const notBefore = Number.isFinite(now) && now >= ROOT_NOT_BEFORE_FLOOR ? ROOT_NOT_BEFORE_FLOOR : 0;
  return { notBefore: new Date(notBefore), notAfter: new Date(ROOT_NOT_AFTER) };
}

/** A fresh RSA-2048 key pair: SPKI and PKCS#8 PEM (keygen in Node's crypto, off the event loop). */
export async function generateRootKeyPair(): Promise<KeyPairPem> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: ROOT_KEY_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** Peer id of a public key (PEM or KeyObject; a private key yields its public half). */
export function peerIdFromPublicKey(key: string | KeyObject): string {
  return peerIdFromSpki(spkiDer(createPublicKey(key)));
}

/** Peer id of a certificate's subject key. */
export function peerIdFromCertificate(certPem: string): string {
  return peerIdFromSpki(spkiDer(new X509Certificate(certPem).publicKey));
}

/** 16 random bytes, high bit clear (positive INTEGER) and first byte non-zero (minimal DER). */
function serialHex(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x01;
  return b.toString('hex');
}

/**
 * Build the self-signed identity root: v3, SHA-256 with RSA, subject CN = peer id and O = peerhub,
 * basicConstraints CA:true (critical, with a path length), keyUsage keyCertSign + cRLSign +
 * digitalSignature (critical), subjectKeyIdentifier. Returns PEM.
 */
export function createRootCertificate(init: RootCertificateInit): string {
  const pub = createPublicKey(init.publicKeyPem);
  const priv = createPrivateKey(init.privateKeyPem);
  if (pub.asymmetricKeyType !== 'rsa') throw new Error(`root key must be RSA, got ${pub.asymmetricKeyType}`);
  if (!spkiDer(createPublicKey(priv)).equals(spkiDer(pub))) {
    throw new Error('public and private key do not belong together');
  }
  const pathLen = init.pathLen ?? ROOT_PATH_LEN;
  if (!Number.isInteger(pathLen) || pathLen < 1) throw new Error(`pathLen must be an integer ≥ 1`);

  const { pki } = forge();
  const cert = pki.createCertificate();
  cert.version = 2; // v3
  cert.publicKey = pki.publicKeyFromPem(init.publicKeyPem);
  cert.serialNumber = serialHex();
  const { notBefore, notAfter } = rootValidity(init.now);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const name = [
    { name: 'commonName', value: init.commonName ?? peerIdFromSpki(spkiDer(pub)) },
    { name: 'organizationName', value: 'peerhub' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: pathLen, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signCertificate(cert, priv); // SHA-256: Node refuses forge's default, SHA-1 (ERR_SSL_CA_MD_TOO_WEAK)
  return pki.certificateToPem(cert);
}

export interface RootInfo {
  peerId: string;
  notBefore: Date;
  notAfter: Date;
}

/** Why a stored root is unusable; `which` is the file at fault ('pair' = they disagree). */
export class RootCheckError extends Error {
  constructor(
    readonly which: 'key' | 'cert' | 'pair',
    message: string,
  ) {
    super(message);
    this.name = 'RootCheckError';
  }
}

/** Check that a key and a certificate form a usable identity root; throws RootCheckError. */
export function checkRootPair(certPem: string, keyPem: string): RootInfo {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw new RootCheckError('key', `not a readable PEM private key (${(e as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new RootCheckError('key', `key type ${key.asymmetricKeyType}, expected rsa`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (e) {
    throw new RootCheckError('cert', `not a readable PEM certificate (${(e as Error).message})`);
  }
  const peerId = peerIdFromSpki(spkiDer(x509.publicKey));
  const problem = (msg: string): Error => new RootCheckError('pair', msg);
  if (!x509.checkPrivateKey(key)) throw problem('the private key does not match the certificate');
  if (!x509.verify(x509.publicKey)) throw problem('the certificate is not self-signed by its key');
  if (!x509.ca) throw problem('the certificate is not a CA (basicConstraints CA:false)');
  const cn = x509.subject
    .split('\n')
    .find((l) => l.startsWith('CN='))
    ?.slice(3);
  if (cn !== peerId) throw problem(`the certificate names ${cn ?? 'no CN'}, not its key's peer id`);
  return { peerId, notBefore: new Date(x509.validFrom), notAfter: new Date(x509.validTo) };
}
