/**
 * Checks on a contact's root certificate, and the verification short code both owners compare.
 * Pure: no I/O, no clock (a hub whose clock reads 1970 still adds contacts; validity is the chain
 * validator's business when the contact connects).
 */
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import type forgeNs from 'node-forge';
import { forge } from '../identity/forge.js';
import { PeerhubError } from '../core/errors.js';
import { peerIdFromSpki, shortId } from '../identity/index.js';

const MIN_RSA_BITS = 2048;
/** Node's and forge's default; fixed so keys can't be varied cheaply (see verificationCode). */
const RSA_EXPONENT = 65537n;

function certInvalid(why: string): PeerhubError {
  return new PeerhubError('PH_ERR_CONTACT_CERT_INVALID', `contact certificate: ${why}`, { statusCode: 400 });
}

function parse(pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw certInvalid(`not a readable X.509 certificate (${(e as Error).message})`);
  }
}

/** The certificate's key: OpenSSL parses a certificate whose SubjectPublicKeyInfo it cannot decode. */
function publicKeyOf(x509: X509Certificate): KeyObject {
  try {
    return x509.publicKey;
  } catch (e) {
    throw certInvalid(`unreadable public key (${(e as Error).message})`);
  }
}

function spkiOf(x509: X509Certificate): Buffer {
  return publicKeyOf(x509).export({ type: 'spki', format: 'der' });
}

/**
 * Check that `pem` is a usable identity root: RSA ≥ 2048 bits with e = 65537, CA:true, keyUsage
 * keyCertSign, self-issued and self-signed with SHA-256 or stronger; and, when `expectedPeerId` is
 * given, that its SPKI hashes to that peer id (PH_ERR_CONTACT_CERT_MISMATCH). Returns its peer id.
 */
export function verifyRootCertificate(pem: string, expectedPeerId?: string): string {
  const x509 = parse(pem);
  const key = publicKeyOf(x509);
  if (key.asymmetricKeyType !== 'rsa') throw certInvalid(`key type ${key.asymmetricKeyType}, expected RSA`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw certInvalid(`RSA key of ${bits} bits, at least ${MIN_RSA_BITS} required`);
  const exp = key.asymmetricKeyDetails?.publicExponent;
  if (exp !== RSA_EXPONENT) throw certInvalid(`RSA public exponent ${exp}, expected ${RSA_EXPONENT}`);
  let f: forgeNs.pki.Certificate;
  try {
    f = forge().pki.certificateFromPem(pem);
  } catch (e) {
    throw certInvalid(`unreadable (${(e as Error).message})`);
  }
  const ku = f.getExtension('keyUsage') as { keyCertSign?: boolean } | null;
  // Before x509.ca and checkIssued, which (OpenSSL) also fail on it, with a less clear message.
  if (ku && !ku.keyCertSign) throw certInvalid('keyUsage lacks keyCertSign');
  if (!x509.ca) throw certInvalid('not a certification authority (basicConstraints CA:false)');
  if (!x509.checkIssued(x509)) throw certInvalid('not self-issued (issuer differs from subject)');
  if (!x509.verify(key)) throw certInvalid('not self-signed: its signature does not verify with its own key');
  const sig = forge().pki.oids[f.siginfo.algorithmOid] as string | undefined;
  if (!sig || !/^sha(256|384|512)WithRSAEncryption$/.test(sig)) {
    throw certInvalid(`signature algorithm ${sig ?? f.siginfo.algorithmOid} refused (SHA-256 or stronger)`);
  }
  const peerId = peerIdFromSpki(spkiOf(x509));
  if (expectedPeerId !== undefined && peerId !== expectedPeerId) {
    throw new PeerhubError(
      'PH_ERR_CONTACT_CERT_MISMATCH',
      `the certificate's key is peer ${shortId(peerId)}, not ${shortId(expectedPeerId)} as the card claims: ` +
        `this card is not from the peer it names`,
      { statusCode: 400 },
    );
  }
  return peerId;
}

/** Domain separation: these hashes are for nothing but this code. */
const CODE_DOMAIN = Buffer.from('peerhub contact verification v1\0', 'utf8');
export const CODE_GROUPS = 3;
export const CODE_GROUP_DIGITS = 4;
/** log2(10^12) ≈ 39.9 bits. */
export const CODE_ENTROPY_BITS = Math.log2(10 ** (CODE_GROUPS * CODE_GROUP_DIGITS));

function lengthPrefixed(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/**
 * The short code shown on both hubs before trusting a contact (KDE Connect's verification key):
 * SHA-256 over the domain prefix and the two roots' SPKI DERs, each length-prefixed, sorted bytewise (so
 * both sides compute the same code); the first 8 bytes as an integer mod 10^12, as 3 groups of 4 digits
 * (`4821-0937-5512`). About 39.9 bits (the modulo bias, 2^64 mod 10^12, is below 10^-7).
 *
 * What it buys: a man in the middle who substitutes his key M for each side must make code(A, M) on
 * one hub equal code(M', B) on the other. Against one fixed pair that is 10^12 tries; with free choice
 * of both M and M' it is a birthday search, ~10^6 keys per side. That is why roots must use e = 65537
 * (verifyRootCertificate): every try costs a fresh RSA key generation, not one hash with another
 * exponent. Comparing the full peer id (256 bits) is the strong check; the code catches the wrong
 * card and a spoofer who has not prepared for this pair.
 */
export function verificationCode(rootCertPemA: string, rootCertPemB: string): string {
  const [a, b] = [spkiOf(parse(rootCertPemA)), spkiOf(parse(rootCertPemB))].sort(Buffer.compare) as [
    Buffer,
    Buffer,
  ];
  const digest = createHash('sha256')
    .update(CODE_DOMAIN)
    .update(lengthPrefixed(a))
    .update(lengthPrefixed(b))
    .digest();
  const n = digest.readBigUInt64BE(0) % 10n ** BigInt(CODE_GROUPS * CODE_GROUP_DIGITS);
  const digits = n.toString().padStart(CODE_GROUPS * CODE_GROUP_DIGITS, '0');
  const groups: string[] = [];
  for (let i = 0; i < digits.length; i += CODE_GROUP_DIGITS)
    groups.push(digits.slice(i, i + CODE_GROUP_DIGITS));
  return groups.join('-');
}
