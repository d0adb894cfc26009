/** Certificates for the chain tests: real ones from issue.ts, and hand-built bad ones with forge. */
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { createRootCertificate, generateRootKeyPair } from '../../../firmware/identity/index.js';
import type { KeyPairPem } from '../../../firmware/identity/index.js';

export const DAY = 24 * 3_600_000;

export interface Ca {
  keys: KeyPairPem;
  certPem: string;
}

/** A pool of key pairs, generated once (RSA keygen is the slow part). */
export async function keyPool(n: number): Promise<KeyPairPem[]> {
  return Promise.all(Array.from({ length: n }, () => generateRootKeyPair()));
}

export function root(keys: KeyPairPem, now: number, pathLen?: number): Ca {
  return { keys, certPem: createRootCertificate({ ...keys, now, ...(pathLen ? { pathLen } : {}) }) };
}

export interface HandMade {
  issuer: Ca;
  subjectPublicKeyPem: string;
  cn: string;
  notBefore: Date;
  notAfter: Date;
  ca?: boolean;
  pathLen?: number;
  keyCertSign?: boolean;
  md?: 'sha1' | 'sha256';
  /** No basicConstraints extension at all. */
  noBasicConstraints?: boolean;
}

/** A certificate built by hand (no issue.ts guard rails), for chains that must fail one check. */
export function handMade(h: HandMade): string {
  const issuer = forge.pki.certificateFromPem(h.issuer.certPem);
  const cert = forge.pki.createCertificate();
  cert.version = 2;
  cert.publicKey = forge.pki.publicKeyFromPem(h.subjectPublicKeyPem);
  const serial = randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 1;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = h.notBefore;
  cert.validity.notAfter = h.notAfter;
  cert.setSubject([
    { name: 'commonName', value: h.cn },
    { name: 'organizationName', value: 'peerhub' },
  ]);
  cert.setIssuer(issuer.subject.attributes);
  const ski = issuer.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string };
  const ext: object[] = [];
  if (!h.noBasicConstraints) {
    ext.push({
      name: 'basicConstraints',
      cA: h.ca ?? false,
      ...(h.pathLen === undefined ? {} : { pathLenConstraint: h.pathLen }),
      critical: true,
    });
  }
  ext.push({
    name: 'keyUsage',
    digitalSignature: true,
    keyCertSign: h.keyCertSign ?? h.ca ?? false,
    critical: true,
  });
  ext.push({ name: 'subjectKeyIdentifier' });
  ext.push({
    name: 'authorityKeyIdentifier',
    keyIdentifier: forge.util.hexToBytes(ski.subjectKeyIdentifier),
  });
  cert.setExtensions(ext);
  const md = h.md === 'sha1' ? forge.md.sha1.create() : forge.md.sha256.create();
  cert.sign(forge.pki.privateKeyFromPem(h.issuer.keys.privateKeyPem), md);
  return forge.pki.certificateToPem(cert);
}

/** Flip one bit in the signature (the last bytes of the DER), keeping the PEM well-formed. */
export function tamperSignature(pem: string): string {
  const der = Buffer.from(new X509Certificate(pem).raw);
  der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01;
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

export function openssl(...args: string[]): { ok: boolean; out: string } {
  try {
    const out = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, out };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}
