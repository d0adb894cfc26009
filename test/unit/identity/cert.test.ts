import t from 'tap';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import {
  checkRootPair,
  createRootCertificate,
  generateRootKeyPair,
  peerIdFromCertificate,
  peerIdFromPublicKey,
  ROOT_NOT_BEFORE_FLOOR,
  RootCheckError,
  rootValidity,
} from '../../../firmware/identity/index.js';

const keys = await generateRootKeyPair();
const other = await generateRootKeyPair();
const dir = mkdtempSync(join(tmpdir(), 'peerhub-cert-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const clocks: Array<[string, number]> = [
  ['clock at 1970 (no RTC)', 0],
  ['clock a few minutes after 1970', 5 * 60_000],
  ['clock at a stale shutdown time', Date.UTC(2023, 5, 1)],
  ['clock today', Date.now()],
];

for (const [name, now] of clocks) {
  t.test(`root certificate made with ${name}`, async (t) => {
    const pem = createRootCertificate({ ...keys, now });
    const peerId = peerIdFromPublicKey(keys.publicKeyPem);

    // Node's view.
    const x = new X509Certificate(pem);
    t.ok(new Date(x.validFrom).getTime() <= now, `validFrom ${x.validFrom} ≤ now`);
    t.ok(new Date(x.validTo).getTime() > Date.now(), `validTo ${x.validTo} in the future`);
    t.ok(new Date(x.validFrom).getTime() <= Date.now(), 'also valid with a correct clock');
    t.equal(new Date(x.validTo).toISOString(), '2100-01-01T00:00:00.000Z');
    t.ok(x.ca, 'CA');
    t.ok(x.verify(x.publicKey), 'self-signed');
    t.ok(x.checkIssued(x), 'issuer = subject');
    t.equal(x.subject, `CN=${peerId}\nO=peerhub`);
    t.match(x.serialNumber, /^[0-7][0-9A-F]{31}$/, '16-byte positive serial');
    t.equal(peerIdFromCertificate(pem), peerId);

    // forge's view: verify the self-signature and the chain [root] at `now`.
    const f = forge.pki.certificateFromPem(pem);
    t.equal(f.version, 2, 'v3');
    t.ok(f.verify(f), 'forge verifies the signature');
    const store = forge.pki.createCaStore([pem]);
    t.ok(forge.pki.verifyCertificateChain(store, [f], { validityCheckDate: new Date(now) }), 'chain at now');
    t.ok(forge.pki.verifyCertificateChain(store, [f]), 'chain at the real time');
    t.equal(f.siginfo.algorithmOid, forge.pki.oids['sha256WithRSAEncryption']);

    // OpenSSL's view.
    const file = join(dir, `root-${now}.pem`);
    writeFileSync(file, pem);
    const text = openssl('x509', '-in', file, '-noout', '-text');
    t.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    t.match(text, /Version: 3/);
    t.match(text, /Public-Key: \(2048 bit\)/);
    t.match(text, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:4/);
    t.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    t.match(text, /X509v3 Subject Key Identifier/);
    t.match(text, /Not After : Jan {2}1 00:00:00 2100 GMT/);
    t.notMatch(text, /sha1/i);
    t.match(
      openssl('verify', '-CAfile', file, '-attime', String(Math.max(1, Math.floor(now / 1000))), file),
      /OK/,
    );
    t.match(openssl('verify', '-x509_strict', '-CAfile', file, file), /OK/);
  });
}

t.test('validity choice', async (t) => {
  t.equal(rootValidity(0).notBefore.getTime(), 0, 'clock before 2020 → notBefore at the epoch');
  t.equal(rootValidity(ROOT_NOT_BEFORE_FLOOR - 1).notBefore.getTime(), 0);
  t.equal(rootValidity(ROOT_NOT_BEFORE_FLOOR).notBefore.getTime(), ROOT_NOT_BEFORE_FLOOR);
  t.equal(rootValidity(Date.now()).notBefore.toISOString(), '2020-01-01T00:00:00.000Z', 'never `now` itself');
  t.equal(rootValidity(Number.NaN).notBefore.getTime(), 0);
});

t.test('options and refusals', async (t) => {
  const pem = createRootCertificate({ ...keys, now: Date.now(), commonName: 'custom', pathLen: 1 });
  t.equal(new X509Certificate(pem).subject, 'CN=custom\nO=peerhub');
  t.match(forge.pki.certificateFromPem(pem).getExtension('basicConstraints'), { pathLenConstraint: 1 });
  t.throws(
    () =>
      createRootCertificate({ publicKeyPem: keys.publicKeyPem, privateKeyPem: other.privateKeyPem, now: 0 }),
    /do not belong together/,
  );
  t.throws(() => createRootCertificate({ ...keys, now: 0, pathLen: 0 }), /pathLen/);
  t.not(
    createRootCertificate({ ...keys, now: 0 }),
    createRootCertificate({ ...keys, now: 0 }),
    'random serials',
  );
});

t.test('checkRootPair', async (t) => {
  const pem = createRootCertificate({ ...keys, now: Date.now() });
  const info = checkRootPair(pem, keys.privateKeyPem);
  t.equal(info.peerId, peerIdFromPublicKey(keys.privateKeyPem));
  t.equal(info.notAfter.toISOString(), '2100-01-01T00:00:00.000Z');

  const cases: Array<[string, string, string, RegExp]> = [
    ['other key', pem, other.privateKeyPem, /does not match/],
    ['truncated key', pem, keys.privateKeyPem.slice(0, 400), /not a readable PEM private key/],
    ['empty key', pem, '', /not a readable PEM private key/],
    ['truncated cert', pem.slice(0, 300), keys.privateKeyPem, /not a readable PEM certificate/],
    ['garbage cert', 'hello', keys.privateKeyPem, /not a readable PEM certificate/],
    ['other CN', createRootCertificate({ ...keys, now: 0, commonName: 'x' }), keys.privateKeyPem, /names x/],
  ];
  const which = ['pair', 'key', 'key', 'cert', 'cert', 'pair'];
  cases.forEach(([name, c, k, re], i) => {
    try {
      checkRootPair(c, k);
      t.fail(`${name}: accepted`);
    } catch (e) {
      t.ok(e instanceof RootCheckError, name);
      t.match((e as Error).message, re, name);
      t.equal((e as RootCheckError).which, which[i], `${name}: blames ${which[i]}`);
    }
  });
});
