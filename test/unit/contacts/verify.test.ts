import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import {
  CODE_ENTROPY_BITS,
  checkEndpoint,
  verificationCode,
  verifyRootCertificate,
} from '../../../firmware/contacts/index.js';
import { parseXml } from '../../../firmware/contacts/xml.js';
import { person } from './helpers.js';

const [a, b, c] = await Promise.all([person(), person(), person()]);
if (!a || !b || !c) throw new Error('identities');

t.test('verification code: symmetric, 3 groups of 4 digits, changes with either key', async (t) => {
  const ab = verificationCode(a.rootCertPem, b.rootCertPem);
  t.match(ab, /^\d{4}-\d{4}-\d{4}$/);
  t.equal(verificationCode(b.rootCertPem, a.rootCertPem), ab, 'same on both hubs');
  t.not(verificationCode(a.rootCertPem, c.rootCertPem), ab, 'another contact key');
  t.not(verificationCode(c.rootCertPem, b.rootCertPem), ab, 'another own key');
  t.equal(
    verificationCode(a.rootCertPem.replace(/\r\n/g, '\n'), b.rootCertPem),
    ab,
    'PEM line ends do not matter',
  );
  t.match(verificationCode(a.rootCertPem, a.rootCertPem), /^\d{4}-\d{4}-\d{4}$/, 'defined for one key too');
  t.ok(CODE_ENTROPY_BITS > 39.8 && CODE_ENTROPY_BITS < 40, `${CODE_ENTROPY_BITS.toFixed(2)} bits`);
  t.throws(() => verificationCode('nope', b.rootCertPem), { code: 'PH_ERR_CONTACT_CERT_INVALID' });
});

interface CertOpts {
  bits?: number;
  exponent?: number;
  ca?: boolean;
  keyCertSign?: boolean;
  sha1?: boolean;
  issuerKeyPem?: string; // sign with another key (not self-signed)
}

/** A root-like certificate made with forge, with one thing wrong at a time. */
function makeCert(o: CertOpts = {}): string {
  const k = generateKeyPairSync('rsa', {
    modulusLength: o.bits ?? 2048,
    publicExponent: o.exponent ?? 65537,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(k.publicKey);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(0);
  cert.validity.notAfter = new Date(Date.UTC(2100, 0, 1));
  const name = [{ name: 'commonName', value: 'test' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: o.ca ?? true, critical: true },
    { name: 'keyUsage', keyCertSign: o.keyCertSign ?? true, digitalSignature: true, critical: true },
  ]);
  const signer = forge.pki.privateKeyFromPem(o.issuerKeyPem ?? k.privateKey);
  cert.sign(signer, o.sha1 ? forge.md.sha1.create() : forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

t.test('root certificate checks', async (t) => {
  t.equal(verifyRootCertificate(a.rootCertPem), a.peerId);
  t.equal(verifyRootCertificate(a.rootCertPem, a.peerId), a.peerId);
  t.throws(() => verifyRootCertificate(a.rootCertPem, b.peerId), { code: 'PH_ERR_CONTACT_CERT_MISMATCH' });
  t.ok(verifyRootCertificate(makeCert()), 'the test builder makes acceptable roots');
  const bad: Array<[string, CertOpts, RegExp]> = [
    ['not a CA', { ca: false }, /CA:false/],
    ['no keyCertSign', { keyCertSign: false }, /keyCertSign/],
    ['SHA-1 signature', { sha1: true }, /sha1WithRSAEncryption refused/],
    ['1024-bit key', { bits: 1024 }, /1024 bits/],
    ['exponent 3', { exponent: 3 }, /exponent 3/],
    ['signed by another key', { issuerKeyPem: a.privateKeyPem }, /not self-signed/],
  ];
  for (const [name, opts, message] of bad) {
    t.throws(
      () => verifyRootCertificate(makeCert(opts)),
      { code: 'PH_ERR_CONTACT_CERT_INVALID', message },
      name,
    );
  }
});

t.test('endpoints', async (t) => {
  const ok: Array<[string, string]> = [
    ['hub.example.org:7443', 'hub.example.org:7443'],
    ['HUB.Example.ORG.:1', 'hub.example.org.:1'],
    ['10.0.0.2:65535', '10.0.0.2:65535'],
    ['[2001:db8::1]:7443', '[2001:db8::1]:7443'],
    [' localhost:80 ', 'localhost:80'],
  ];
  for (const [i, o] of ok) t.equal(checkEndpoint(i), o, i);
  for (const bad of [
    'hub',
    ':80',
    'hub:',
    'hub:080',
    'hub:99999',
    '-hub:1',
    'a_b:1',
    '1.2.3:1',
    '[zz]:1',
    'a b:1',
  ]) {
    t.throws(() => checkEndpoint(bad), { code: 'PH_ERR_CONTACT_INVALID' }, bad);
  }
});

t.test('XML reader edge cases', async (t) => {
  t.same(
    parseXml(`<a x='1' y="&lt;&#x41;">t<b/>u</a>`).attrs,
    new Map([
      ['x', '1'],
      ['y', '<A'],
    ]),
  );
  t.equal(parseXml('<a>t<b/>u<!-- c --></a>').text, 'tu');
  const refused: Array<[string, string, RegExp]> = [
    ['<a>&</a>', 'PH_ERR_CONTACT_XML_INVALID', /bare '&'/],
    ['<a>&#0;</a>', 'PH_ERR_CONTACT_XML_INVALID', /not an XML character/],
    ['<a><!-- x</a>', 'PH_ERR_CONTACT_XML_INVALID', /unterminated comment/],
    ['<a></b>', 'PH_ERR_CONTACT_XML_INVALID', /closed by <\/b>/],
    ['<a/></a>', 'PH_ERR_CONTACT_XML_INVALID', /without a start tag/],
    ['x<a/>', 'PH_ERR_CONTACT_XML_INVALID', /text outside/],
    ['<a x="1" x="2"/>', 'PH_ERR_CONTACT_XML_INVALID', /twice/],
    ['<a x=1/>', 'PH_ERR_CONTACT_XML_INVALID', /quoted/],
    ['<a x="<"/>', 'PH_ERR_CONTACT_XML_INVALID', /'<'/],
    ['<a><!ELEMENT a ANY></a>', 'PH_ERR_CONTACT_XML_UNSAFE', /never processed/],
    ['<a><!NOTATION n SYSTEM "x"></a>', 'PH_ERR_CONTACT_XML_UNSAFE', /never processed/],
    ['<a>\ud800</a>', 'PH_ERR_CONTACT_XML_INVALID', /U\+d800/],
    [' <?xml version="1.0"?><a/>', 'PH_ERR_CONTACT_XML_INVALID', /processing instructions/],
    ['<?xml version="1.1"?><a/>', 'PH_ERR_CONTACT_XML_INVALID', /version 1.1/],
  ];
  for (const [src, code, message] of refused) t.throws(() => parseXml(src), { code, message }, src);
  t.throws(() => parseXml(`<a ${Array.from({ length: 9 }, (_, i) => `a${i}="1"`).join(' ')}/>`), {
    code: 'PH_ERR_CONTACT_XML_LIMIT',
  });
  // Deep nesting far past the limit: refused at depth 9, without recursion.
  t.throws(() => parseXml('<a>'.repeat(100_000)), { code: 'PH_ERR_CONTACT_XML_LIMIT' });
});
