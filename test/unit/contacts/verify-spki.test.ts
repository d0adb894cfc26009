/**
 * Found by the fuzzer (test/torture): a certificate OpenSSL parses but whose SubjectPublicKeyInfo it
 * cannot decode made contact import throw a raw OpenSSL error instead of PH_ERR_CONTACT_CERT_INVALID.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { verificationCode, verifyRootCertificate } from '../../../firmware/contacts/index.js';
import { person } from './helpers.js';

const a = await person();

/** The same certificate with the RSA key's inner SEQUENCE tag turned into a SET (undecodable key). */
function badSpki(pem: string): string {
  const der = Buffer.from(new X509Certificate(pem).raw);
  const alg = Buffer.from('06092a864886f70d0101010500', 'hex'); // rsaEncryption, NULL
  const at = der.indexOf(alg) + alg.length; // BIT STRING: 03 82 01 0f 00, then 30 82 01 0a …
  if (der[at] !== 0x03 || der[at + 5] !== 0x30) throw new Error('unexpected certificate layout');
  der[at + 5] = 0x31;
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
}

t.test('a certificate with an undecodable public key is refused with a code', async (t) => {
  const pem = badSpki(a.rootCertPem);
  t.doesNotThrow(() => new X509Certificate(pem), 'OpenSSL still parses the certificate');
  t.throws(() => verifyRootCertificate(pem), {
    code: 'PH_ERR_CONTACT_CERT_INVALID',
    message: /unreadable public key/,
  });
  t.throws(() => verifyRootCertificate(pem, a.peerId), { code: 'PH_ERR_CONTACT_CERT_INVALID' });
  t.throws(() => verificationCode(pem, a.rootCertPem), { code: 'PH_ERR_CONTACT_CERT_INVALID' });
  t.equal(verifyRootCertificate(a.rootCertPem, a.peerId), a.peerId, 'the intact one still passes');
});
