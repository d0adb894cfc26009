import t, { type Test } from 'tap';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  issueCertificate,
  peerIdFromPublicKey,
  verifyChain,
  verifyChainDer,
} from '../../../firmware/identity/index.js';
import type { IssueInit, VerifyOptions } from '../../../firmware/identity/index.js';
import { PARSED_CACHE_MAX, parsedCacheSize } from '../../../firmware/identity/chain.js';
import type { ErrorCode } from '../../../firmware/core/errors.js';
import { DAY, handMade, keyPool, openssl, root, tamperSignature } from './chain-fixtures.js';
import type { Ca } from './chain-fixtures.js';

const keys = await keyPool(5);
const [kRoot, kOther, kA, kB, kC] = keys as [(typeof keys)[0], ...typeof keys];
const now = Date.now();
const ca = root(kRoot, now);
const otherRoot = root(kOther!, now);
const rootId = peerIdFromPublicKey(kRoot.publicKeyPem);
const anchors = [{ peerId: rootId }];
const dir = mkdtempSync(join(tmpdir(), 'peerhub-chain-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function issue(issuer: Ca, subject: { publicKeyPem: string }, more: Partial<IssueInit> = {}): string {
  return issueCertificate({
    issuerCertPem: issuer.certPem,
    issuerKeyPem: issuer.keys.privateKeyPem,
    subjectPublicKeyPem: subject.publicKeyPem,
    profile: 'tls',
    now,
    ...more,
  });
}

function rejects(t: Test, chain: string[], code: ErrorCode, opts: Partial<VerifyOptions> = {}): void {
  t.throws(() => verifyChain(chain, { now, anchors, ...opts }), { code }, code);
}

/** openssl's opinion, as a cross-check of ours: chain leaf first, root last. */
function opensslAccepts(chain: string[], ...flags: string[]): boolean {
  const files = chain.map((pem, i) => {
    const f = join(dir, `c${Date.now()}-${i}.pem`);
    writeFileSync(f, pem);
    return f;
  });
  const untrusted = join(dir, `u${Date.now()}.pem`);
  writeFileSync(untrusted, chain.slice(1, -1).join('') || chain.at(-1)!);
  return openssl('verify', ...flags, '-CAfile', files.at(-1)!, '-untrusted', untrusted, files[0]!).ok;
}

const tlsLeaf = issue(ca, kA!);

t.test('a TLS leaf verifies for both purposes; DER and PEM agree', async (t) => {
  for (const purpose of ['tls-server', 'tls-client'] as const) {
    const r = verifyChain([tlsLeaf, ca.certPem], { now, anchors, purpose });
    t.same(
      { root: r.rootPeerId, leaf: r.leafPeerId, depth: r.depth },
      { root: rootId, leaf: peerIdFromPublicKey(kA!.publicKeyPem), depth: 2 },
    );
    t.equal(r.notAfter.getTime(), new Date(new X509Certificate(tlsLeaf).validTo).getTime());
    const der = [tlsLeaf, ca.certPem].map((p) => Buffer.from(new X509Certificate(p).raw));
    t.same(verifyChainDer(der, { now, anchors: 'any-self-signed', purpose }), r);
  }
  t.equal(verifyChain([ca.certPem], { now, anchors }).depth, 1, 'a bare root, purpose any');
});

t.test('3-deep: root → session CA of a session host → member', async (t) => {
  const sessionCa = issue(ca, kB!, {
    profile: 'session-member',
    ca: { pathLen: 0 },
    extra: { sessionId: 's1' },
  });
  const member = issue({ keys: kB!, certPem: sessionCa }, kC!, {
    profile: 'session-member',
    extra: { sessionId: 's1' },
  });
  const chain = [member, sessionCa, ca.certPem];
  const r = verifyChain(chain, { now, anchors, purpose: 'session-member', sessionId: 's1' });
  t.equal(r.depth, 3);
  t.equal(r.sessionId, 's1');
  t.equal(r.leafPeerId, peerIdFromPublicKey(kC!.publicKeyPem));
  t.ok(opensslAccepts(chain, '-purpose', 'sslclient'), 'openssl agrees');
  rejects(t, chain, 'PH_ERR_CHAIN_KEYUSAGE', { purpose: 'session-member', sessionId: 's2' });
  rejects(t, chain, 'PH_ERR_CHAIN_KEYUSAGE', { purpose: 'tls-client' });
  rejects(t, chain, 'PH_ERR_CHAIN_TOO_DEEP', { maxDepth: 2 });

  // pathLen 0 on the session CA: a CA below it, then a leaf, breaks the constraint.
  const sub = handMade({
    issuer: { keys: kB!, certPem: sessionCa },
    subjectPublicKeyPem: kA!.publicKeyPem,
    cn: 'sub-ca',
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + DAY / 2),
    ca: true,
  });
  const leaf = handMade({
    issuer: { keys: kA!, certPem: sub },
    subjectPublicKeyPem: kC!.publicKeyPem,
    cn: 'leaf',
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + DAY / 4),
  });
  const tooLong = [leaf, sub, sessionCa, ca.certPem];
  rejects(t, tooLong, 'PH_ERR_CHAIN_PATHLEN');
  t.notOk(opensslAccepts(tooLong), 'openssl agrees');
});

t.test('a session membership or an introduction cannot pose as the issuer in TLS', async (t) => {
  const member = issue(ca, kB!, { profile: 'session-member', extra: { sessionId: 's1' } });
  rejects(t, [member, ca.certPem], 'PH_ERR_CHAIN_KEYUSAGE', { purpose: 'tls-server' });
  const intro = issue(ca, kB!, { profile: 'introduction' });
  rejects(t, [intro, ca.certPem], 'PH_ERR_CHAIN_KEYUSAGE', { purpose: 'tls-client' });
  t.equal(
    verifyChain([intro, ca.certPem], { now, anchors, purpose: 'introduction' }).leafPeerId,
    peerIdFromPublicKey(kB!.publicKeyPem),
  );
  rejects(t, [tlsLeaf, ca.certPem], 'PH_ERR_CHAIN_KEYUSAGE', { purpose: 'introduction' });
  rejects(t, [ca.certPem], 'PH_ERR_CHAIN_KEYUSAGE', { purpose: 'tls-server' });
});

t.test('each failure has its code', async (t) => {
  const window = { notBefore: new Date(now - DAY), notAfter: new Date(now + 10 * DAY) };

  rejects(t, [], 'PH_ERR_CHAIN_EMPTY');
  rejects(t, ['garbage'], 'PH_ERR_CHAIN_PARSE');
  rejects(
    t,
    ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', ca.certPem],
    'PH_ERR_CHAIN_PARSE',
  );
  rejects(t, [tlsLeaf + ca.certPem], 'PH_ERR_CHAIN_PARSE');
  t.throws(() => verifyChainDer([Buffer.from('nope')], { now, anchors }), { code: 'PH_ERR_CHAIN_PARSE' });

  const expired = issue(ca, kA!, { now: now - 60 * DAY });
  rejects(t, [expired, ca.certPem], 'PH_ERR_CHAIN_EXPIRED');
  t.notOk(opensslAccepts([expired, ca.certPem]), 'openssl: expired');
  const future = issue(ca, kA!, { now: now + 10 * DAY });
  rejects(t, [future, ca.certPem], 'PH_ERR_CHAIN_NOT_YET_VALID');

  rejects(t, [tlsLeaf, ca.certPem], 'PH_ERR_CHAIN_UNTRUSTED', {
    anchors: [{ peerId: otherRoot.keys.publicKeyPem && peerIdFromPublicKey(kOther!.publicKeyPem) }],
  });
  rejects(t, [issue(otherRoot, kA!), otherRoot.certPem], 'PH_ERR_CHAIN_UNTRUSTED');
  const mid = issue(ca, kB!, { profile: 'session-member', ca: {}, extra: { sessionId: 's' } });
  const below = issue({ keys: kB!, certPem: mid }, kC!, {
    profile: 'session-member',
    extra: { sessionId: 's' },
  });
  rejects(t, [below, mid], 'PH_ERR_CHAIN_UNTRUSTED', { anchors: 'any-self-signed' });

  const notCa = handMade({
    issuer: ca,
    subjectPublicKeyPem: kB!.publicKeyPem,
    cn: 'x',
    ...window,
    keyCertSign: true,
  });
  const underNotCa = handMade({
    issuer: { keys: kB!, certPem: notCa },
    subjectPublicKeyPem: kC!.publicKeyPem,
    cn: 'y',
    ...window,
  });
  rejects(t, [underNotCa, notCa, ca.certPem], 'PH_ERR_CHAIN_NOT_CA');
  t.notOk(opensslAccepts([underNotCa, notCa, ca.certPem]), 'openssl: CA-less issuer');
  const noBc = handMade({
    issuer: ca,
    subjectPublicKeyPem: kB!.publicKeyPem,
    cn: 'x',
    ...window,
    keyCertSign: true,
    noBasicConstraints: true,
  });
  const underNoBc = handMade({
    issuer: { keys: kB!, certPem: noBc },
    subjectPublicKeyPem: kC!.publicKeyPem,
    cn: 'y',
    ...window,
  });
  rejects(t, [underNoBc, noBc, ca.certPem], 'PH_ERR_CHAIN_NOT_CA');

  const noSign = handMade({
    issuer: ca,
    subjectPublicKeyPem: kB!.publicKeyPem,
    cn: 'x',
    ...window,
    ca: true,
    keyCertSign: false,
  });
  const underNoSign = handMade({
    issuer: { keys: kB!, certPem: noSign },
    subjectPublicKeyPem: kC!.publicKeyPem,
    cn: 'y',
    ...window,
  });
  rejects(t, [underNoSign, noSign, ca.certPem], 'PH_ERR_CHAIN_KEYUSAGE');
  t.notOk(opensslAccepts([underNoSign, noSign, ca.certPem]), 'openssl: issuer without keyCertSign');

  const shortCa = handMade({
    issuer: ca,
    subjectPublicKeyPem: kB!.publicKeyPem,
    cn: 'x',
    ...window,
    ca: true,
  });
  const outliver = handMade({
    issuer: { keys: kB!, certPem: shortCa },
    subjectPublicKeyPem: kC!.publicKeyPem,
    cn: 'y',
    notBefore: window.notBefore,
    notAfter: new Date(now + 20 * DAY),
  });
  rejects(t, [outliver, shortCa, ca.certPem], 'PH_ERR_CHAIN_OUTLIVES_ISSUER');

  rejects(t, [tamperSignature(tlsLeaf), ca.certPem], 'PH_ERR_CHAIN_SIGNATURE');
  rejects(t, [issue(otherRoot, kA!), ca.certPem], 'PH_ERR_CHAIN_SIGNATURE', { anchors: 'any-self-signed' });
  rejects(t, [tlsLeaf, otherRoot.certPem], 'PH_ERR_CHAIN_SIGNATURE', { anchors: 'any-self-signed' });

  const sha1 = handMade({
    issuer: ca,
    subjectPublicKeyPem: kA!.publicKeyPem,
    cn: 'z',
    ...window,
    md: 'sha1',
  });
  rejects(t, [sha1, ca.certPem], 'PH_ERR_CHAIN_WEAK');
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
    type: 'spki',
    format: 'pem',
  });
  const weakKey = handMade({ issuer: ca, subjectPublicKeyPem: small as string, cn: 'w', ...window });
  rejects(t, [weakKey, ca.certPem], 'PH_ERR_CHAIN_WEAK');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  t.throws(() => verifyChain([selfSignedEc(ec)], { now, anchors: 'any-self-signed' }), {
    code: 'PH_ERR_CHAIN_WEAK',
  });

  const e = (() => {
    try {
      verifyChain([expired, ca.certPem], { now, anchors });
    } catch (err) {
      return err as { statusCode: number; message: string };
    }
    throw new Error('no error');
  })();
  t.equal(e.statusCode, 401);
  t.match(e.message, /certificate 1 of 2 \(leaf\) expired at/);
});

t.test('too deep: 25 certificates', async (t) => {
  const deepRoot = root(kRoot, now, 30);
  const chain = [deepRoot.certPem];
  let issuer: Ca = deepRoot;
  const pool = [kA!, kB!, kC!];
  for (let i = 0; i < 24; i++) {
    const k = pool[i % 3]!;
    const last = i === 23;
    const pem = issue(
      issuer,
      k,
      last
        ? { commonName: `leaf` }
        : { ca: {}, commonName: `ca-${i}`, profile: 'session-member' as const, extra: { sessionId: 'd' } },
    );
    chain.unshift(pem);
    issuer = { keys: k, certPem: pem };
  }
  t.equal(chain.length, 25);
  rejects(t, chain, 'PH_ERR_CHAIN_TOO_DEEP');
  t.equal(
    verifyChain(chain.slice(1), { now, anchors }).depth,
    24,
    'the same chain without its leaf: 24 is fine',
  );
});

t.test('clock tolerance', async (t) => {
  const chain = [tlsLeaf, ca.certPem];
  // A Pi at 1970 checking a chain made with a good clock.
  t.ok(verifyChain(chain, { now: 0, anchors, clockSynchronised: false, purpose: 'tls-client' }));
  rejects(t, chain, 'PH_ERR_CHAIN_NOT_YET_VALID', { now: 0 });
  // A Pi at 1970 issuing with its root made at a good time: the window starts at the root's notBefore.
  const at1970 = issue(ca, kA!, { now: 0 });
  t.ok(verifyChain([at1970, ca.certPem], { now: 0, anchors, clockSynchronised: false }));
  // A hub whose root was made at 1970 verifies its own fresh chain at 1970, synchronised or not.
  const root1970 = root(kB!, 60_000);
  const own = issue(root1970, kC!, { now: 60_000 });
  const own1970 = {
    anchors: [{ peerId: peerIdFromPublicKey(kB!.publicKeyPem) }],
    purpose: 'tls-server' as const,
  };
  t.ok(verifyChain([own, root1970.certPem], { now: 60_000, ...own1970 }));
  t.ok(verifyChain([own, root1970.certPem], { now: 120_000, clockSynchronised: false, ...own1970 }));
  // Far in the future: expired, synchronised or not (the grace is one day).
  const far = now + 10 * 365 * DAY;
  rejects(t, chain, 'PH_ERR_CHAIN_EXPIRED', { now: far });
  rejects(t, chain, 'PH_ERR_CHAIN_EXPIRED', { now: far, clockSynchronised: false });
  // Unsynchronised, past 2020: notBefore is not checked, notAfter has a day of grace.
  const notAfter = verifyChain(chain, { now, anchors }).notAfter.getTime();
  rejects(t, chain, 'PH_ERR_CHAIN_EXPIRED', { now: notAfter + DAY / 2 });
  t.ok(verifyChain(chain, { now: notAfter + DAY / 2, anchors, clockSynchronised: false }));
  t.ok(verifyChain(chain, { now: now - 200 * DAY, anchors, clockSynchronised: false }));
});

function selfSignedEc(ec: ReturnType<typeof generateKeyPairSync>): string {
  const f = join(dir, 'ec.key');
  writeFileSync(f, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return openssl('req', '-x509', '-new', '-key', f, '-subj', '/CN=ec', '-days', '1', '-sha256').out;
}

t.test('parsed certificates are kept by their bytes: bounded, and every check still runs', async (t) => {
  const chain = [tlsLeaf, ca.certPem];
  t.ok(verifyChain(chain, { now, anchors, purpose: 'tls-client' }), 'verified (and kept)');
  // The same bytes again: the clock, anchors, purpose and signatures are still checked.
  rejects(t, chain, 'PH_ERR_CHAIN_EXPIRED', { now: now + 10 * 365 * DAY });
  rejects(t, chain, 'PH_ERR_CHAIN_UNTRUSTED', {
    anchors: [{ peerId: peerIdFromPublicKey(kOther!.publicKeyPem) }],
  });
  rejects(t, chain, 'PH_ERR_CHAIN_KEYUSAGE', { purpose: 'session-member' });
  rejects(t, [tamperSignature(tlsLeaf), ca.certPem], 'PH_ERR_CHAIN_SIGNATURE');
  t.ok(verifyChain(chain, { now, anchors, purpose: 'tls-server' }), 'and verified again');
  // A caller reusing its buffer after the call cannot change what was kept.
  const der = [tlsLeaf, ca.certPem].map((p) => Buffer.from(new X509Certificate(p).raw));
  t.ok(verifyChainDer(der, { now, anchors, purpose: 'tls-client' }));
  (der[0] as Buffer).fill(0);
  t.ok(verifyChain(chain, { now, anchors, purpose: 'tls-client' }), 'the kept copy is intact');
  // More distinct certificates than the bound: the oldest go.
  for (let i = 0; i <= PARSED_CACHE_MAX; i++) {
    verifyChain([issue(ca, kA!, { now: now - i * 1000 }), ca.certPem], { now, anchors });
  }
  t.equal(parsedCacheSize(), PARSED_CACHE_MAX, `at most ${PARSED_CACHE_MAX} kept`);
});
