/**
 * The parts of node-forge peerhub uses — X.509 certificates, PEM keys, SHA-256/384/512 — loaded on
 * first use. `import 'node-forge'` loads every module forge has (TLS, PKCS#7, SSH, ed25519, KEM…):
 * ≈ 250 KB of source an agent would hold in its heap without ever running it.
 */
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
