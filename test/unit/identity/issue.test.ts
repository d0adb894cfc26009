import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import {
  childValidity,
  issueCertificate,
  peerIdFromPublicKey,
  PROFILE_VALIDITY_MS,
  ROOT_NOT_AFTER,
  verifyChain,
} from '../../../firmware/identity/index.js';
import type { CertProfile } from '../../../firmware/identity/index.js';
import { DAY, keyPool, openssl, root } from './chain-fixtures.js';

const [rootKeys, subjectKeys, otherKeys] = await keyPool(3);
if (!rootKeys || !subjectKeys || !otherKeys) throw new Error('keys');
const now = Date.now();
const ca = root(rootKeys, now);
const rootPeerId = peerIdFromPublicKey(rootKeys.publicKeyPem);
const subjectPeerId = peerIdFromPublicKey(subjectKeys.publicKeyPem);
const dir = mkdtempSync(join(tmpdir(), 'peerhub-issue-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const rootFile = join(dir, 'root.pem');
writeFileSync(rootFile, ca.certPem);

function issue(profile: CertProfile, extra: Partial<Parameters<typeof issueCertificate>[0]> = {}): string {
  return issueCertificate({
    issuerCertPem: ca.certPem,
    issuerKeyPem: rootKeys!.privateKeyPem,
    subjectPublicKeyPem: subjectKeys!.publicKeyPem,
    profile,
    now,
    ...(profile === 'session-member' ? { extra: { sessionId: 'sess-42' } } : {}),
    ...extra,
  });
}

const expectations: Record<CertProfile, { usage: RegExp; eku: RegExp | null; san: string | null }> = {
  tls: {
    usage: /Key Usage: critical\s+Digital Signature, Key Encipherment/,
    eku: /TLS Web Server Authentication, TLS Web Client Authentication/,
    san: `URI:urn:peerhub:peer:${rootPeerId}`,
  },
  introduction: { usage: /Key Usage: critical\s+Digital Signature\s*\n/, eku: null, san: null },
  'session-member': {
    usage: /Key Usage: critical\s+Digital Signature\s*\n/,
    eku: /TLS Web Server Authentication, TLS Web Client Authentication/,
    san: 'URI:urn:peerhub:session:sess-42',
  },
};

for (const profile of ['tls', 'introduction', 'session-member'] as const) {
  t.test(`profile ${profile}: openssl accepts and shows a sane certificate`, async (t) => {
    const pem = issue(profile);
    const leafFile = join(dir, `${profile}.pem`);
    writeFileSync(leafFile, pem);
    const v = openssl('verify', '-x509_strict', '-CAfile', rootFile, leafFile);
    t.ok(v.ok, `openssl verify: ${v.out}`);
    if (profile !== 'introduction') {
      for (const purpose of ['sslserver', 'sslclient']) {
        const p = openssl('verify', '-purpose', purpose, '-CAfile', rootFile, leafFile);
        t.ok(p.ok, `openssl verify -purpose ${purpose}: ${p.out}`);
      }
    }
    const text = openssl('x509', '-noout', '-text', '-in', leafFile).out;
    t.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    t.notMatch(text, /sha1With/i);
    t.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    t.match(text, expectations[profile].usage);
    const eku = expectations[profile].eku;
    if (eku) t.match(text, eku);
    else t.notMatch(text, /Extended Key Usage/);
    const san = expectations[profile].san;
    if (san) t.match(text, san);
    t.match(text, /X509v3 Subject Key Identifier/);
    t.match(text, /X509v3 Authority Key Identifier/);
    t.match(text, `Subject: CN = ${subjectPeerId}, O = peerhub, OU = ${profile}`);
    t.match(text, `Issuer: CN = ${rootPeerId}, O = peerhub`);

    const x = new X509Certificate(pem);
    t.match(x.serialNumber, /^[0-7][0-9A-F]{31}$/, '16-byte positive serial');
    t.ok(x.checkIssued(new X509Certificate(ca.certPem)), 'AKI/issuer link');
    const nb = new Date(x.validFrom).getTime();
    const na = new Date(x.validTo).getTime();
    t.ok(nb <= now - 3_600_000 + 1000 && nb >= now - 3_600_000 - 1000, 'notBefore = now − 1 h');
    t.ok(Math.abs(na - (now + PROFILE_VALIDITY_MS[profile])) < 2000, 'notAfter = now + profile validity');
    const purpose = profile === 'tls' ? 'tls-server' : profile;
    const r = verifyChain([pem, ca.certPem], { now, anchors: [{ peerId: rootPeerId }], purpose });
    t.equal(r.leafPeerId, subjectPeerId);
    t.equal(r.rootPeerId, rootPeerId);
  });
}

t.test('two issues give different serials', async (t) => {
  t.not(new X509Certificate(issue('tls')).serialNumber, new X509Certificate(issue('tls')).serialNumber);
});

t.test('a session CA below a root, and a member below it', async (t) => {
  const sessionCa = issue('session-member', { ca: {}, subjectPublicKeyPem: otherKeys.publicKeyPem });
  const text = (() => {
    const f = join(dir, 'session-ca.pem');
    writeFileSync(f, sessionCa);
    return openssl('x509', '-noout', '-text', '-in', f).out;
  })();
  t.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:3/, 'root pathLen 4 − 1');
  t.match(text, /Certificate Sign/);
  const member = issueCertificate({
    issuerCertPem: sessionCa,
    issuerKeyPem: otherKeys.privateKeyPem,
    subjectPublicKeyPem: subjectKeys.publicKeyPem,
    profile: 'session-member',
    now,
    extra: { sessionId: 'sess-42' },
  });
  const files = ['member.pem', 'chain-ca.pem'].map((f) => join(dir, f));
  writeFileSync(files[0]!, member);
  writeFileSync(files[1]!, sessionCa);
  const v = openssl(
    'verify',
    '-purpose',
    'sslclient',
    '-CAfile',
    rootFile,
    '-untrusted',
    files[1]!,
    files[0]!,
  );
  t.ok(v.ok, `openssl verify of the 3-deep chain: ${v.out}`);
});

t.test(
  'validity: a child never outlives its issuer, and a 1970 clock still yields a usable window',
  async (t) => {
    const issuer = { notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter: new Date(ROOT_NOT_AFTER) };
    const nearEnd = childValidity(ROOT_NOT_AFTER - DAY, 30 * DAY, issuer);
    t.equal(nearEnd.notAfter.getTime(), ROOT_NOT_AFTER, 'cut at the issuer notAfter');
    const at1970 = childValidity(0, 30 * DAY, issuer);
    t.equal(at1970.notBefore.getTime(), Date.UTC(2020, 0, 1), 'never before the issuer notBefore');
    t.equal(at1970.notAfter.getTime(), Date.UTC(2020, 0, 31), 'window from the issuer start');
    t.throws(() => childValidity(ROOT_NOT_AFTER + DAY, DAY, issuer), { code: 'PH_ERR_CERT_ISSUE' });
    const pem = issue('tls', { now: 0 });
    const x = new X509Certificate(pem);
    t.ok(new Date(x.validFrom).getTime() >= 0, 'root made now, clock at 1970: not before the root');
    const f = forge.pki.certificateFromPem(pem);
    t.equal(f.siginfo.algorithmOid, forge.pki.oids['sha256WithRSAEncryption']);
  },
);

t.test('refusals', async (t) => {
  const leaf = issue('tls');
  t.throws(
    () => issueCertificate({ ...base(), issuerCertPem: leaf, issuerKeyPem: subjectKeys.privateKeyPem }),
    { code: 'PH_ERR_CERT_ISSUE', message: /not a CA/ },
  );
  t.throws(() => issueCertificate({ ...base(), issuerKeyPem: otherKeys.privateKeyPem }), {
    code: 'PH_ERR_CERT_ISSUE',
    message: /does not match/,
  });
  t.throws(() => issueCertificate({ ...base(), profile: 'session-member' }), {
    code: 'PH_ERR_CERT_ISSUE',
    message: /sessionId/,
  });
  t.throws(() => issueCertificate({ ...base(), profile: 'session-member', extra: { sessionId: 'a/b?c' } }), {
    code: 'PH_ERR_CERT_ISSUE',
  });
  t.throws(() => issueCertificate({ ...base(), subjectPublicKeyPem: 'nope' }), { code: 'PH_ERR_CERT_ISSUE' });
  t.throws(() => issueCertificate({ ...base(), ca: { pathLen: 4 } }), {
    code: 'PH_ERR_CERT_ISSUE',
    message: /path length/,
  });
  t.throws(() => issueCertificate({ ...base(), profile: 'introduction', commonName: 'someone else' }), {
    code: 'PH_ERR_CERT_ISSUE',
  });
  t.throws(() => issueCertificate({ ...base(), validityMs: 0 }), { code: 'PH_ERR_CERT_ISSUE' });
});

function base(): Parameters<typeof issueCertificate>[0] {
  return {
    issuerCertPem: ca.certPem,
    issuerKeyPem: rootKeys!.privateKeyPem,
    subjectPublicKeyPem: subjectKeys!.publicKeyPem,
    profile: 'tls',
    now,
  };
}
