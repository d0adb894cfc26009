/**
 * Chain validation: ONE function for every certificate peerhub accepts (TLS peers, introductions,
 * session members). Pure: no I/O, the time is an argument. Each certificate is parsed on its own from
 * DER; signatures and issuer/subject linking are checked by OpenSSL (Node's X509Certificate),
 * extensions read with node-forge. Every failure is a PeerhubError with its own PH_ERR_CHAIN_* code.
 *
 * Clock tolerance, for `clockSynchronised: false` (a Pi without RTC, before NTP answers):
 * - the clock reads before CLOCK_SANE_FLOOR (2020-01-01): it is certainly wrong, notBefore and notAfter
 *   are not checked at all;
 * - otherwise notBefore is not checked (such a clock lags real time — fake-hwclock restores the last
 *   shutdown time — so "not yet valid" means nothing), and notAfter gets UNSYNCHRONISED_GRACE_MS (1 day)
 *   of grace for a clock running fast.
 * Clock-independent checks (a child never outlives its issuer, signatures, …) always apply.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type forgeNs from 'node-forge';
import { forge } from './forge.js';
import { PeerhubError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import { ROOT_NOT_BEFORE_FLOOR } from './cert.js';
import { PEER_URI_PREFIX, SESSION_URI_PREFIX } from './issue.js';
import { parsePeerId, peerIdFromSpki } from './peerid.js';

/** Trust = a self-signed root whose SPKI hash is this peer id. */
export interface TrustAnchor {
  peerId: string;
}

export type ChainPurpose = 'tls-server' | 'tls-client' | 'session-member' | 'introduction' | 'any';

export interface VerifyOptions {
  now: number;
  /** 'any-self-signed': accept any self-signed root; the caller then checks result.rootPeerId. */
  anchors: TrustAnchor[] | 'any-self-signed';
  /** Certificates in the chain, root included; default and ceiling MAX_CHAIN_DEPTH. */
  maxDepth?: number;
  /** Default true; false applies the tolerance described at the top of this file. */
  clockSynchronised?: boolean;
  /** Default 'any' (no leaf checks). */
  purpose?: ChainPurpose;
  /** purpose 'session-member': the session the leaf must belong to. */
  sessionId?: string;
}

export interface VerifiedChain {
  rootPeerId: string;
  leafPeerId: string;
  depth: number;
  leafCertPem: string;
  notAfter: Date;
  /** The leaf's `urn:peerhub:session:<id>`, when it has one. */
  sessionId?: string;
}

export const MAX_CHAIN_DEPTH = 24;
export const CLOCK_SANE_FLOOR = ROOT_NOT_BEFORE_FLOOR;
export const UNSYNCHRONISED_GRACE_MS = 24 * 3_600_000;
export const MIN_RSA_BITS = 2048;
const STRONG_SIGNATURES = new Set([
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13', // sha512WithRSAEncryption
]);
/** Extensions this validator understands; any other one marked critical makes a certificate unusable. */
const KNOWN_EXTENSIONS = new Set([
  'basicConstraints',
  'keyUsage',
  'extKeyUsage',
  'subjectAltName',
  'subjectKeyIdentifier',
  'authorityKeyIdentifier',
]);

const STATUS: Partial<Record<ErrorCode, number>> = {
  PH_ERR_CHAIN_EMPTY: 401,
  PH_ERR_CHAIN_PARSE: 401,
  PH_ERR_CHAIN_SIGNATURE: 401,
  PH_ERR_CHAIN_EXPIRED: 401,
  PH_ERR_CHAIN_NOT_YET_VALID: 401,
};

interface Parsed {
  x509: X509Certificate;
  der: Buffer;
  sigOid: string;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  pathLen: number | undefined;
  keyUsage: Record<string, boolean> | undefined;
  extKeyUsage: Record<string, boolean> | undefined;
  uris: string[];
  commonName: string | undefined;
  orgUnit: string | undefined;
  peerId: string;
}

type Ext = Record<string, unknown> & { name?: string; id: string; critical?: boolean };

function fail(code: ErrorCode, message: string, cause?: unknown): PeerhubError {
  return new PeerhubError(code, message, { statusCode: STATUS[code] ?? 403, cause });
}

function label(i: number, n: number): string {
  const role = n === 1 ? 'root' : i === 0 ? 'leaf' : i === n - 1 ? 'root' : 'intermediate';
  return `certificate ${i + 1} of ${n} (${role})`;
}

function parseOne(der: Buffer, what: string): Parsed {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (e) {
    throw fail('PH_ERR_CHAIN_PARSE', `${what}: not a DER certificate (${(e as Error).message})`, e);
  }
  const key = x509.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_RSA_BITS) {
    const has = key.asymmetricKeyType === 'rsa' ? `RSA-${bits}` : String(key.asymmetricKeyType);
    throw fail('PH_ERR_CHAIN_WEAK', `${what}: ${has} key, expected RSA ≥ ${MIN_RSA_BITS}`);
  }
  let cert: forgeNs.pki.Certificate;
  try {
    cert = forge().pki.certificateFromAsn1(forge().asn1.fromDer(der.toString('binary')));
  } catch (e) {
    throw fail('PH_ERR_CHAIN_PARSE', `${what}: unreadable (${(e as Error).message})`, e);
  }
  const exts = cert.extensions as Ext[];
  const unknown = exts.find((e) => e.critical && !KNOWN_EXTENSIONS.has(e.name ?? ''));
  if (unknown) throw fail('PH_ERR_CHAIN_PARSE', `${what}: unsupported critical extension ${unknown.id}`);
  const get = (name: string): Ext | undefined => exts.find((e) => e.name === name);
  const bc = get('basicConstraints');
  const san = get('subjectAltName') as { altNames?: Array<{ type: number; value: string }> } | undefined;
  const cn = cert.subject.getField('CN') as { value?: string } | null;
  const ou = cert.subject.getField('OU') as { value?: string } | null;
  return {
    x509,
    der,
    sigOid: cert.siginfo.algorithmOid,
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
    ca: bc?.cA === true,
    pathLen: typeof bc?.pathLenConstraint === 'number' ? bc.pathLenConstraint : undefined,
    keyUsage: get('keyUsage') as Record<string, boolean> | undefined,
    extKeyUsage: get('extKeyUsage') as Record<string, boolean> | undefined,
    uris: (san?.altNames ?? []).filter((a) => a.type === 6).map((a) => a.value),
    commonName: cn?.value,
    orgUnit: ou?.value,
    peerId: peerIdFromSpki(key.export({ type: 'spki', format: 'der' })),
  };
}

/**
 * Parsed certificates by their DER bytes. A hub verifies the same peer's chain again and again — as a
 * client when it checks the peer, as a server when that peer connects, at every retry, renewal and
 * subscription — and parsing (node:crypto's X509Certificate, forge for the extensions) is most of a
 * verification's CPU (≈ 0.7 ms of 0.8 ms per certificate with the agent's flags): 100 hubs starting
 * together verify 19,800 chains. Only what the bytes alone decide is kept; the checks against the clock,
 * the issuer, the anchors and the purpose run every time. Failures are not kept. Bounded, least
 * recently used out.
 */
export const PARSED_CACHE_MAX = 256;
const parsedCache = new Map<string, Parsed>();

function parseCached(der: Buffer, what: string): Parsed {
  const key = der.toString('base64');
  const hit = parsedCache.get(key);
  if (hit) {
    parsedCache.delete(key); // most recently used last
    parsedCache.set(key, hit);
    return hit;
  }
  const parsed = parseOne(Buffer.from(der), what); // our own copy: the caller's buffer may be reused
  parsedCache.set(key, parsed);
  if (parsedCache.size > PARSED_CACHE_MAX) parsedCache.delete(parsedCache.keys().next().value as string);
  return parsed;
}

/** Tests: how many parsed certificates are kept. */
export const parsedCacheSize = (): number => parsedCache.size;

function checkValidity(c: Parsed, what: string, opts: VerifyOptions): void {
  const synced = opts.clockSynchronised ?? true;
  const now = opts.now;
  if (!synced && now < CLOCK_SANE_FLOOR) return;
  const grace = synced ? 0 : UNSYNCHRONISED_GRACE_MS;
  const at = `(clock ${new Date(now).toISOString()}${synced ? '' : ', unsynchronised'})`;
  if (now > c.notAfter.getTime() + grace) {
    throw fail('PH_ERR_CHAIN_EXPIRED', `${what} expired at ${c.notAfter.toISOString()} ${at}`);
  }
  if (synced && now < c.notBefore.getTime()) {
    throw fail('PH_ERR_CHAIN_NOT_YET_VALID', `${what} is valid from ${c.notBefore.toISOString()} ${at}`);
  }
}

function checkLink(child: Parsed, issuer: Parsed, j: number, n: number): void {
  const what = label(j, n);
  if (!issuer.ca) throw fail('PH_ERR_CHAIN_NOT_CA', `${what} issued another certificate but is not a CA`);
  if (!issuer.keyUsage?.keyCertSign) {
    throw fail(
      'PH_ERR_CHAIN_KEYUSAGE',
      `${what} issued another certificate but its keyUsage lacks keyCertSign`,
    );
  }
  if (!child.x509.checkIssued(issuer.x509) || !child.x509.verify(issuer.x509.publicKey)) {
    throw fail(
      'PH_ERR_CHAIN_SIGNATURE',
      `${label(j - 1, n)} is not signed by ${what} (issuer name or signature does not match)`,
    );
  }
  // Intermediates between this issuer and the leaf (none is self-issued in our chains).
  if (issuer.pathLen !== undefined && j - 1 > issuer.pathLen) {
    throw fail(
      'PH_ERR_CHAIN_PATHLEN',
      `${what} allows ${issuer.pathLen} CA(s) below it, the chain has ${j - 1}`,
    );
  }
  if (child.notAfter.getTime() > issuer.notAfter.getTime()) {
    throw fail(
      'PH_ERR_CHAIN_OUTLIVES_ISSUER',
      `${label(j - 1, n)} is valid until ${child.notAfter.toISOString()}, after its issuer (${issuer.notAfter.toISOString()})`,
    );
  }
}

function sessionOf(c: Parsed): string | undefined {
  const uri = c.uris.find((u) => u.startsWith(SESSION_URI_PREFIX));
  return uri === undefined ? undefined : uri.slice(SESSION_URI_PREFIX.length);
}

/**
 * Leaf fit for its purpose. A TLS certificate must come straight from the peer's root and name that
 * root (SAN urn:peerhub:peer:<root peer id>): otherwise any key the peer ever certified (an invitee's
 * session membership, a contact's introduction) could pose as the peer in a handshake.
 */
function checkPurpose(leaf: Parsed, rootPeerId: string, n: number, opts: VerifyOptions): void {
  const purpose = opts.purpose ?? 'any';
  if (purpose === 'any') return;
  const bad = (why: string): PeerhubError =>
    fail('PH_ERR_CHAIN_KEYUSAGE', `${label(0, n)} is not a ${purpose} certificate: ${why}`);
  if (n < 2) throw bad('a bare self-signed root');
  if (!leaf.keyUsage?.digitalSignature) throw bad('keyUsage lacks digitalSignature');
  if (leaf.ca) throw bad('it is a CA');
  const session = sessionOf(leaf);
  if (purpose === 'tls-server' || purpose === 'tls-client') {
    const eku = purpose === 'tls-server' ? 'serverAuth' : 'clientAuth';
    if (!leaf.extKeyUsage?.[eku]) throw bad(`extKeyUsage lacks ${eku}`);
    if (n !== 2) throw bad('not issued directly by the root');
    if (!leaf.uris.includes(PEER_URI_PREFIX + rootPeerId))
      throw bad(`no SAN ${PEER_URI_PREFIX}<root peer id>`);
    if (session !== undefined) throw bad('it is a session membership');
  } else if (purpose === 'session-member') {
    if (session === undefined) throw bad(`no SAN ${SESSION_URI_PREFIX}<id>`);
    if (opts.sessionId !== undefined && session !== opts.sessionId) {
      throw bad(`it is for session ${session}, not ${opts.sessionId}`);
    }
  } else if (leaf.orgUnit !== 'introduction' || leaf.commonName !== leaf.peerId) {
    throw bad('not OU=introduction with CN = the peer id of its key');
  }
}

function verifyParsedInput(ders: Buffer[], opts: VerifyOptions): VerifiedChain {
  const n = ders.length;
  const certs = ders.map((d, i) => parseCached(d, label(i, n)));
  certs.forEach((c, i) => {
    if (!STRONG_SIGNATURES.has(c.sigOid)) {
      throw fail(
        'PH_ERR_CHAIN_WEAK',
        `${label(i, n)} is signed with ${forge().pki.oids[c.sigOid] ?? c.sigOid}`,
      );
    }
  });
  for (let j = 1; j < n; j++) checkLink(certs[j - 1] as Parsed, certs[j] as Parsed, j, n);
  const root = certs[n - 1] as Parsed;
  if (!root.x509.checkIssued(root.x509) || !root.x509.verify(root.x509.publicKey)) {
    throw fail('PH_ERR_CHAIN_UNTRUSTED', `${label(n - 1, n)} is not self-signed: the chain has no root`);
  }
  if (opts.anchors !== 'any-self-signed') {
    const wanted = new Set(opts.anchors.map((a) => parsePeerId(a.peerId)));
    if (!wanted.has(root.peerId)) {
      throw fail('PH_ERR_CHAIN_UNTRUSTED', `the chain ends at ${root.peerId}, which is not a trusted root`);
    }
  }
  certs.forEach((c, i) => checkValidity(c, label(i, n), opts));
  const leaf = certs[0] as Parsed;
  checkPurpose(leaf, root.peerId, n, opts);
  const sessionId = sessionOf(leaf);
  return {
    rootPeerId: root.peerId,
    leafPeerId: leaf.peerId,
    depth: n,
    leafCertPem: leaf.x509.toString(),
    notAfter: leaf.notAfter,
    ...(sessionId === undefined ? {} : { sessionId }),
  };
}

function checkDepth(n: number, opts: VerifyOptions): void {
  if (n === 0) throw fail('PH_ERR_CHAIN_EMPTY', 'no certificate presented');
  const max = Math.min(opts.maxDepth ?? MAX_CHAIN_DEPTH, MAX_CHAIN_DEPTH);
  if (n > max) throw fail('PH_ERR_CHAIN_TOO_DEEP', `chain of ${n} certificates, at most ${max} accepted`);
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;

function pemToDer(pem: unknown, what: string): Buffer {
  const blocks = typeof pem === 'string' ? [...pem.matchAll(PEM_CERT)] : [];
  if (blocks.length !== 1) {
    throw fail('PH_ERR_CHAIN_PARSE', `${what}: expected one PEM certificate, found ${blocks.length}`);
  }
  return Buffer.from((blocks[0] as RegExpMatchArray)[1] as string, 'base64');
}

/**
 * Verify a chain given leaf first, root last. Checks, in order: length (EMPTY, TOO_DEEP), each
 * certificate readable (PARSE) with RSA ≥ 2048 and SHA-256/384/512 (WEAK); each issuer a CA (NOT_CA)
 * with keyCertSign (KEYUSAGE), the signature and names linking (SIGNATURE), path length (PATHLEN), the
 * child not outliving it (OUTLIVES_ISSUER); the root self-signed and among the anchors (UNTRUSTED);
 * validity against the clock (EXPIRED, NOT_YET_VALID); the leaf fit for `purpose` (KEYUSAGE).
 */
export function verifyChain(chainPem: string[], opts: VerifyOptions): VerifiedChain {
  const list = Array.isArray(chainPem) ? chainPem : [];
  checkDepth(list.length, opts);
  return verifyParsedInput(
    list.map((p, i) => pemToDer(p, label(i, list.length))),
    opts,
  );
}

/** verifyChain for DER certificates (the TLS layer: see peerChainFromSocket). */
export function verifyChainDer(chain: Buffer[], opts: VerifyOptions): VerifiedChain {
  const list = Array.isArray(chain) ? chain : [];
  checkDepth(list.length, opts);
  list.forEach((d, i) => {
    if (!Buffer.isBuffer(d)) throw fail('PH_ERR_CHAIN_PARSE', `${label(i, list.length)}: not a Buffer`);
  });
  return verifyParsedInput(list, opts);
}

/**
 * The peer's chain as DER, leaf first, from `getPeerX509Certificate()`: follows issuerCertificate and
 * stops at the self-signed one (OpenSSL links it to itself) or after MAX_CHAIN_DEPTH + 1 certificates
 * (enough for verifyChainDer to say TOO_DEEP). Empty when the peer sent no certificate.
 * (`getPeerCertificate(true)` gives the same chain but turns every certificate into a JS object with
 * all its fields: ≈ 0.3–0.6 ms per handshake here, on each side, for bytes we only re-parse.)
 */
export function peerChainFromSocket(socket: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  let c: X509Certificate | undefined = socket.getPeerX509Certificate();
  while (c && c.raw.length > 0 && out.length <= MAX_CHAIN_DEPTH) {
    const fp = c.fingerprint256;
    if (seen.has(fp)) break;
    seen.add(fp);
    out.push(c.raw);
    c = c.issuerCertificate;
  }
  return out;
}
