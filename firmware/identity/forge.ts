/**
 * The parts of node-forge peerhub uses — X.509 certificates, PEM keys, SHA-256/384/512 — loaded on
 * first use. `import 'node-forge'` loads every module forge has (TLS, PKCS#7, SSH, ed25519, KEM…):
 * ≈ 250 KB of source an agent would hold in its heap without ever running it.
 */
import { sign, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type forgeNs from 'node-forge';

export type Forge = typeof forgeNs;

let lib: Forge | undefined;

export function forge(): Forge {
  if (!lib) {
    const load = createRequire(import.meta.url);
    // Each module registers itself on the one forge object: pki (PEM keys) brings rsa, asn1, oids, pem,
    // util and x509 with it; the digests a chain may be signed with are named explicitly.
    for (const m of ['pki', 'x509', 'sha256', 'sha512']) load(`node-forge/lib/${m}.js`);
    lib = load('node-forge/lib/forge.js') as Forge;
  }
  return lib;
}

/**
 * Sign `cert` with SHA-256 and RSA (PKCS#1 v1.5) through node:crypto: the same bytes forge's
 * `cert.sign(key, sha256)` produces (RSA v1.5 signatures are deterministic), computed by OpenSSL.
 * forge's own RSA runs in JavaScript: without V8's optimising compiler (the agent runs with --no-opt)
 * a member's registration, where the host signs its membership certificate, took ≈ 0.4 s in the lab.
 */
export function signCertificate(cert: forgeNs.pki.Certificate, key: KeyObject): void {
  const { pki, asn1 } = forge();
  const oid = pki.oids['sha256WithRSAEncryption'] as string;
  cert.signatureOid = cert.siginfo.algorithmOid = oid;
  // getTBSCertificate is public in forge (x509.js) but missing from its type definitions.
  const tbs = (pki as unknown as { getTBSCertificate(c: unknown): forgeNs.asn1.Asn1 }).getTBSCertificate(
    cert,
  );
  (cert as { tbsCertificate?: unknown }).tbsCertificate = tbs; // what certificateToPem serialises
  const der = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = sign('sha256', der, key).toString('binary');
}
