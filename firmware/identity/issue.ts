/**
 * The node as CA (DESIGN "Any node as CA"): certify another key for one profile — our TLS leaf, an
 * introduction of a contact, a session membership. Pure: no I/O, the time is an argument. node-forge
 * builds and signs (SHA-256: forge's default is SHA-1); Node's crypto checks the keys.
 */
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type forgeNs from 'node-forge';
import { forge, signCertificate } from './forge.js';
import { PeerhubError } from '../core/errors.js';
import { peerIdFromCertificate, peerIdFromPublicKey } from './cert.js';

export type CertProfile = 'tls' | 'introduction' | 'session-member';

export interface IssueInit {
  /** The issuing CA: our root, a session host's root, or a CA issued with `ca`. */
  issuerCertPem: string;
  issuerKeyPem: string;
  /** The key being certified (SPKI or PKCS#1 PEM; a private key PEM yields its public half). */
  subjectPublicKeyPem: string;
  profile: CertProfile;
  /** Milliseconds since the epoch (may be 1970 on a Pi without RTC). */
  now: number;
  /** Subject CN; default: the peer id of the subject key. */
  commonName?: string;
  /** Default per profile: PROFILE_VALIDITY_MS. Always cut at the issuer's notAfter. */
  validityMs?: number;
  /** session-member: the session id (required), carried as SAN URI `urn:peerhub:session:<id>`. */
  extra?: { sessionId?: string };
  /**
   * Make the certificate a CA below its issuer (e.g. a session host's per-session CA that then issues
   * member certificates): CA:true with this path length (default: the issuer's minus one), keyUsage
   * keyCertSign + cRLSign + digitalSignature. The profile's extKeyUsage and SAN are kept.
   */
  ca?: { pathLen?: number };
}

export const PEER_URI_PREFIX = 'urn:peerhub:peer:';
export const SESSION_URI_PREFIX = 'urn:peerhub:session:';
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
export const PROFILE_VALIDITY_MS: Readonly<Record<CertProfile, number>> = Object.freeze({
  tls: 30 * DAY_MS,
  introduction: 365 * DAY_MS,
  'session-member': DAY_MS,
});
/** notBefore is backdated this much, for verifiers whose clocks lag ours a little. */
export const BACKDATE_MS = HOUR_MS;
export const MIN_SUBJECT_RSA_BITS = 2048;
/** Session ids travel in a URI: RFC 3986 unreserved characters only. */
const SESSION_ID = /^[A-Za-z0-9._~-]{1,128}$/;

function refuse(why: string, cause?: unknown): PeerhubError {
  return new PeerhubError('PH_ERR_CERT_ISSUE', `issue certificate: ${why}`, { statusCode: 500, cause });
}

/** 16 random bytes, high bit clear (positive INTEGER) and first byte non-zero (minimal DER). */
function serialHex(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x01;
  return b.toString('hex');
}

/**
 * Validity of a child: notBefore = now − BACKDATE_MS but never before the issuer's notBefore;
 * notAfter = now + validity but never after the issuer's notAfter (a child never outlives its issuer).
 * A clock reading earlier than the issuer's notBefore (a Pi without RTC at 1970, with a root made at a
 * sane time) starts the window at the issuer's notBefore instead. Whole seconds, as encoded.
 */
export function childValidity(
  now: number,
  validityMs: number,
  issuer: { notBefore: Date; notAfter: Date },
): { notBefore: Date; notAfter: Date } {
  const inb = issuer.notBefore.getTime();
  const ina = issuer.notAfter.getTime();
  const nb = Math.ceil(Math.max(now - BACKDATE_MS, inb) / 1000) * 1000;
  let na = Math.floor(Math.min(now + validityMs, ina) / 1000) * 1000;
  if (na <= nb) na = Math.floor(Math.min(nb + validityMs, ina) / 1000) * 1000;
  if (na <= nb) {
    throw refuse(
      `the issuer expired at ${issuer.notAfter.toISOString()} (now ${new Date(now).toISOString()})`,
    );
  }
  return { notBefore: new Date(nb), notAfter: new Date(na) };
}

interface Issuer {
  cert: forgeNs.pki.Certificate;
  key: KeyObject;
  peerId: string;
  pathLen: number | undefined;
  keyId: string;
}

function extension<T>(cert: forgeNs.pki.Certificate, name: string): T | undefined {
  return (cert.getExtension(name) ?? undefined) as T | undefined;
}

function loadIssuer(certPem: string, keyPem: string): Issuer {
  let x509: X509Certificate;
  let cert: forgeNs.pki.Certificate;
  let key: KeyObject;
  try {
    x509 = new X509Certificate(certPem);
    cert = forge().pki.certificateFromPem(certPem);
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw refuse(`issuer certificate or key unreadable (${(e as Error).message})`, e);
  }
  if (!x509.checkPrivateKey(key)) throw refuse('the issuer key does not match the issuer certificate');
  const bc = extension<{ cA?: boolean; pathLenConstraint?: number }>(cert, 'basicConstraints');
  if (!bc?.cA) throw refuse('the issuer is not a CA (basicConstraints CA:false)');
  const ku = extension<{ keyCertSign?: boolean }>(cert, 'keyUsage');
  if (ku && !ku.keyCertSign) throw refuse('the issuer key usage lacks keyCertSign');
  const ski = extension<{ subjectKeyIdentifier?: string }>(cert, 'subjectKeyIdentifier');
  const keyId = ski?.subjectKeyIdentifier
    ? forge().util.hexToBytes(ski.subjectKeyIdentifier)
    : forge().pki.getPublicKeyFingerprint(cert.publicKey, { type: 'RSAPublicKey' }).getBytes();
  return {
    cert,
    key,
    peerId: peerIdFromCertificate(certPem),
    pathLen: bc.pathLenConstraint,
    keyId,
  };
}

function subjectKey(pem: string): { forgeKey: forgeNs.pki.PublicKey; peerId: string } {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw refuse(`subject public key unreadable (${(e as Error).message})`, e);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_SUBJECT_RSA_BITS) {
    throw refuse(
      `subject key is ${key.asymmetricKeyType} ${bits} bits, expected RSA ≥ ${MIN_SUBJECT_RSA_BITS}`,
    );
  }
  const spki = key.export({ type: 'spki', format: 'pem' }) as string;
  return { forgeKey: forge().pki.publicKeyFromPem(spki), peerId: peerIdFromPublicKey(spki) };
}

function caPathLen(init: IssueInit, issuer: Issuer): number | undefined {
  if (!init.ca) return undefined;
  if (issuer.pathLen !== undefined && issuer.pathLen < 1) {
    throw refuse('the issuer has path length 0: it cannot issue another CA');
  }
  const max = issuer.pathLen === undefined ? Infinity : issuer.pathLen - 1;
  const pathLen = init.ca.pathLen ?? (Number.isFinite(max) ? max : 0);
  if (!Number.isInteger(pathLen) || pathLen < 0 || pathLen > max) {
    throw refuse(`CA path length ${pathLen} is not an integer in 0..${max}`);
  }
  return pathLen;
}

function sessionIdOf(init: IssueInit): string | undefined {
  const id = init.extra?.sessionId;
  if (init.profile !== 'session-member') return undefined;
  if (id === undefined || !SESSION_ID.test(id)) {
    throw refuse(
      `session-member needs extra.sessionId of 1–128 of A–Z a–z 0–9 . _ ~ - (got ${JSON.stringify(id)})`,
    );
  }
  return id;
}

/**
 * Issue a certificate for `subjectPublicKeyPem`, signed by the issuer; returns PEM. All profiles: v3,
 * sha256WithRSAEncryption, random positive 16-byte serial, subject CN/O=peerhub/OU=<profile>, SKI + AKI,
 * basicConstraints critical, keyUsage critical.
 * - tls: CA:false, digitalSignature + keyEncipherment, extKeyUsage serverAuth + clientAuth,
 *   SAN URI `urn:peerhub:peer:<issuer's peer id>`.
 * - introduction: CA:false, digitalSignature; CN = the introduced peer id (the subject key's).
 * - session-member: CA:false, digitalSignature, extKeyUsage clientAuth + serverAuth,
 *   SAN URI `urn:peerhub:session:<id>`.
 * Throws PH_ERR_CERT_ISSUE when the issuer cannot issue (not a CA, expired, key mismatch, …).
 */
export function issueCertificate(init: IssueInit): string {
  if (!Number.isFinite(init.now)) throw refuse(`now is not a finite time (${init.now})`);
  const issuer = loadIssuer(init.issuerCertPem, init.issuerKeyPem);
  const subject = subjectKey(init.subjectPublicKeyPem);
  const sessionId = sessionIdOf(init);
  const pathLen = caPathLen(init, issuer);
  const validityMs = init.validityMs ?? PROFILE_VALIDITY_MS[init.profile];
  if (!(validityMs > 0)) throw refuse(`validityMs must be positive (got ${validityMs})`);
  const commonName = init.profile === 'introduction' ? subject.peerId : (init.commonName ?? subject.peerId);
  if (
    init.profile === 'introduction' &&
    init.commonName !== undefined &&
    init.commonName !== subject.peerId
  ) {
    throw refuse('an introduction names the introduced peer id: commonName must be the subject key’s');
  }

  const cert = forge().pki.createCertificate();
  cert.version = 2; // v3
  cert.publicKey = subject.forgeKey;
  cert.serialNumber = serialHex();
  const validity = childValidity(init.now, validityMs, issuer.cert.validity);
  cert.validity.notBefore = validity.notBefore;
  cert.validity.notAfter = validity.notAfter;
  cert.setSubject([
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'peerhub' },
    { shortName: 'OU', value: init.profile },
  ]);
  cert.setIssuer(issuer.cert.subject.attributes);

  const ext: object[] = [];
  if (pathLen === undefined) {
    ext.push({ name: 'basicConstraints', cA: false, critical: true });
    ext.push({
      name: 'keyUsage',
      digitalSignature: true,
      keyEncipherment: init.profile === 'tls',
      critical: true,
    });
  } else {
    ext.push({ name: 'basicConstraints', cA: true, pathLenConstraint: pathLen, critical: true });
    ext.push({ name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true });
  }
  if (init.profile !== 'introduction') ext.push({ name: 'extKeyUsage', serverAuth: true, clientAuth: true });
  if (init.profile === 'tls') {
    ext.push({ name: 'subjectAltName', altNames: [{ type: 6, value: PEER_URI_PREFIX + issuer.peerId }] });
  }
  if (sessionId !== undefined) {
    ext.push({ name: 'subjectAltName', altNames: [{ type: 6, value: SESSION_URI_PREFIX + sessionId }] });
  }
  ext.push({ name: 'subjectKeyIdentifier' });
  ext.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyId });
  cert.setExtensions(ext);
  signCertificate(cert, issuer.key);
  return forge().pki.certificateToPem(cert);
}
