// Only the subset loader is imported here (tap runs each file in its own process): what it loads must
// be enough for everything peerhub asks forge for, and must not be the whole library.
import t from 'tap';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { forge, signCertificate } from '../../../firmware/identity/forge.js';

t.test(
  'the subset has X.509, PEM keys and the digests a chain may be signed with, and not TLS',
  async (t) => {
    const f = forge();
    t.equal(forge(), f, 'loaded once');
    for (const md of ['sha256', 'sha384', 'sha512'] as const) t.type(f.md[md]?.create, 'function', md);
    for (const fn of [
      'certificateFromPem',
      'certificateFromAsn1',
      'certificateToPem',
      'createCertificate',
      'privateKeyFromPem',
      'publicKeyFromPem',
      'getPublicKeyFingerprint',
    ] as const)
      t.type(f.pki[fn], 'function', fn);
    t.type(f.asn1.fromDer, 'function');
    t.type(f.util.hexToBytes, 'function');
    t.equal((f as unknown as { tls?: unknown }).tls, undefined, 'forge’s TLS is not loaded');
  },
);

t.test(
  'a certificate signed with SHA-512 (or 384) round-trips and verifies with the subset alone',
  async (t) => {
    const f = forge();
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pub = f.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const key = f.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    for (const md of ['sha384', 'sha512'] as const) {
      const cert = f.pki.createCertificate();
      cert.publicKey = pub;
      cert.serialNumber = '01';
      cert.validity.notBefore = new Date(Date.UTC(2026, 0, 1));
      cert.validity.notAfter = new Date(Date.UTC(2027, 0, 1));
      cert.setSubject([{ name: 'commonName', value: md }]);
      cert.setIssuer([{ name: 'commonName', value: md }]);
      cert.sign(key, f.md[md].create());
      const back = f.pki.certificateFromPem(f.pki.certificateToPem(cert));
      t.ok(back.verify(back), `${md}: self-signature verifies`);
    }
  },
);

t.test(
  'signCertificate (OpenSSL) writes the very certificate forge’s own SHA-256 signing does',
  async (t) => {
    const f = forge();
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const build = () => {
      const cert = f.pki.createCertificate();
      cert.version = 2;
      cert.publicKey = f.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
      cert.serialNumber = '0badcafe';
      cert.validity.notBefore = new Date(Date.UTC(2026, 0, 1));
      cert.validity.notAfter = new Date(Date.UTC(2027, 0, 1));
      cert.setSubject([{ name: 'commonName', value: 'same' }]);
      cert.setIssuer([{ name: 'commonName', value: 'same' }]);
      cert.setExtensions([
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'subjectKeyIdentifier' },
      ]);
      return cert;
    };
    const byForge = build();
    byForge.sign(
      f.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
      f.md.sha256.create(),
    );
    const byOpenSsl = build();
    signCertificate(byOpenSsl, privateKey);
    const pem = f.pki.certificateToPem(byOpenSsl);
    t.equal(pem, f.pki.certificateToPem(byForge), 'byte for byte (RSA PKCS#1 v1.5 is deterministic)');
    const x = new X509Certificate(pem);
    t.ok(x.verify(publicKey), 'Node verifies the signature');
    t.match(x.toLegacyObject(), { subject: { CN: 'same' } });
    // Signed with another key, the certificate no longer verifies with this one.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const wrong = build();
    signCertificate(wrong, other);
    t.notOk(new X509Certificate(f.pki.certificateToPem(wrong)).verify(publicKey), 'another key: refused');
  },
);
