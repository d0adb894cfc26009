import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportContact, MAX_CONTACT_XML_BYTES, parseContactXml } from '../../../firmware/contacts/index.js';
import { cardOf, hub, person } from './helpers.js';

const lf = (s: string): string => s.replace(/\r\n/g, '\n');
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const [alice, bob, eve] = await Promise.all([person(), person(), person()]);
if (!alice || !bob || !eve) throw new Error('identities');

t.test('export → import between two hubs with two identities', async (t) => {
  const a = await hub(t.testdir(), alice, 'Alice');
  const b = await hub(t.testdir(), bob, 'Bob');
  const xml = exportContact(a.manager.me());
  t.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<peerhubContact version="1">\n/);
  t.match(xml, /<certificate encoding="pem">\n-----BEGIN CERTIFICATE-----\n/);
  t.match(xml, /<endpoint>hub.example.org:7443<\/endpoint>/);
  const added = await b.manager.importXml(Buffer.from(xml, 'utf8'));
  t.match(added, { peerId: alice.peerId, nickname: 'Alice', endpoints: ['hub.example.org:7443'] });
  t.equal(added.rootCertPem, lf(alice.rootCertPem), 'the root is pinned (PEM with LF line ends)');
  await t.rejects(
    b.manager.importXml(exportContact(b.manager.me())),
    { code: 'PH_ERR_CONTACT_SELF' },
    'my own card',
  );
  await t.rejects(b.manager.importXml(xml), { code: 'PH_ERR_CONTACT_EXISTS' });

  // And back, with awkward characters and a contact (not me) exported.
  await b.manager.update('Alice', { displayName: 'Alice <"&\'> Ünïcødé 🎉', email: 'alice+hub@example.org' });
  const again = exportContact(b.manager.get('Alice'));
  t.notMatch(again, /subscription|addedAt|verifiedAt/, 'local fields stay home');
  const card = parseContactXml(again);
  t.equal(card.displayName, 'Alice <"&\'> Ünïcødé 🎉');
  t.equal(card.email, 'alice+hub@example.org');
  await a.manager.importXml(exportContact(b.manager.me()));
  t.equal(
    a.manager.verificationCodeFor('Bob'),
    b.manager.verificationCodeFor('Alice'),
    'both hubs show the same code',
  );
  await a.manager.close();
  await b.manager.close();
});

t.test('accepted variations: BOM, no declaration, comments, CRLF, references, no endpoints', async (t) => {
  const xml = exportContact(cardOf(alice, 'Al & Co'));
  t.match(xml, /<nickname>Al &amp; Co<\/nickname>/);
  const variants: Array<[string, string | Buffer]> = [
    ['UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml)])],
    ['no declaration', xml.replace(/^<\?xml[^>]*>\n/, '')],
    ['comments', xml.replace('<nickname>', '<!-- <certificate>decoy</certificate> --><nickname>')],
    ['CRLF line ends', xml.replace(/\n/g, '\r\n')],
    ['character references', xml.replace('Al &amp; Co', '&#65;l &#x26; Co')],
    ['endpoints omitted', xml.replace('  <endpoints/>\n', '')],
  ];
  for (const [name, v] of variants) {
    t.match(parseContactXml(v), { peerId: alice.peerId, nickname: 'Al & Co' }, name);
  }
});

/** Each fixture and the code it must be refused with. */
const EXPECTED: Record<string, string> = {
  'bad-peerid.xml': 'PH_ERR_CONTACT_INVALID',
  'billion-laughs.xml': 'PH_ERR_CONTACT_XML_UNSAFE',
  'cdata-certificate.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'cdata-hidden-element.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'comment-dashes.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'deep-nesting.xml': 'PH_ERR_CONTACT_XML_LIMIT',
  'doctype-lowercase.xml': 'PH_ERR_CONTACT_XML_UNSAFE',
  'encoding-latin1-declared.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'entity-in-attribute.xml': 'PH_ERR_CONTACT_XML_UNSAFE',
  'external-entity.xml': 'PH_ERR_CONTACT_XML_UNSAFE',
  'garbage-certificate.xml': 'PH_ERR_CONTACT_CERT_INVALID',
  'latin1-bytes.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'missing-certificate.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'missing-peerid.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'namespaced-root.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'not-pem-certificate.xml': 'PH_ERR_CONTACT_INVALID',
  'nul-byte.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'parameter-entity.xml': 'PH_ERR_CONTACT_XML_UNSAFE',
  'processing-instruction.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'truncated.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'two-certificates.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'two-pem-blocks.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'two-roots.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'undeclared-entity.xml': 'PH_ERR_CONTACT_XML_UNSAFE',
  'unknown-element.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'utf16.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'version-2.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'wrong-root.xml': 'PH_ERR_CONTACT_XML_INVALID',
  'xinclude.xml': 'PH_ERR_CONTACT_XML_INVALID',
};

/** Hostile files made here: real certificates, or too big to keep as fixtures. */
function generated(): Record<string, [string | Buffer, string]> {
  const good = exportContact(cardOf(alice, 'Alice'));
  const endpoints = (n: number): string =>
    good.replace(
      '<endpoints/>',
      `<endpoints>${Array.from({ length: n }, (_, i) => `<endpoint>h${i}.example.org:1</endpoint>`).join('')}</endpoints>`,
    );
  if (!good.includes(lf(alice.rootCertPem))) throw new Error('export changed the PEM beyond line ends');
  return {
    'peer id of another key': [good.replace(alice.peerId, eve.peerId), 'PH_ERR_CONTACT_CERT_MISMATCH'],
    'certificate of another key': [
      good.replace(lf(alice.rootCertPem), lf(bob.rootCertPem)),
      'PH_ERR_CONTACT_CERT_MISMATCH',
    ],
    'over 64 KiB': [
      good.replace('<displayName/>', `<!-- ${'x'.repeat(MAX_CONTACT_XML_BYTES)} --><displayName/>`),
      'PH_ERR_CONTACT_XML_LIMIT',
    ],
    '1 MiB of entity references': [Buffer.alloc(1 << 20, '&a;'), 'PH_ERR_CONTACT_XML_LIMIT'],
    '300 endpoints': [endpoints(300), 'PH_ERR_CONTACT_XML_LIMIT'],
    '17 endpoints': [endpoints(17), 'PH_ERR_CONTACT_INVALID'],
    'empty file': ['', 'PH_ERR_CONTACT_XML_INVALID'],
    'JSON, not XML': [JSON.stringify(cardOf(alice, 'Alice')), 'PH_ERR_CONTACT_XML_INVALID'],
  };
}

t.test('hostile files: refused with their code, the store unchanged, no event', async (t) => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.xml'));
  t.same(files.sort(), Object.keys(EXPECTED).sort(), 'every fixture has an expected code');
  const h = await hub(t.testdir(), bob, 'Bob');
  await h.manager.add(cardOf(eve, 'Eve'));
  const before = readFileSync(h.file);
  const events = h.events.length;
  const cases: Array<[string, string | Buffer, string]> = [
    ...files.map((f): [string, Buffer, string] => [
      f,
      readFileSync(join(FIXTURES, f)),
      EXPECTED[f] as string,
    ]),
    ...Object.entries(generated()).map(([n, [x, c]]): [string, string | Buffer, string] => [n, x, c]),
  ];
  for (const [name, input, want] of cases) {
    const started = process.hrtime.bigint();
    const err = await h.manager.importXml(input).then(
      () => null,
      (e: { code?: string; message?: string }) => e,
    );
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    t.equal(err?.code, want, `${name}: ${err?.message ?? 'accepted!'}`);
    t.ok(ms < 500, `${name}: refused in ${ms.toFixed(1)} ms`);
  }
  t.same(readFileSync(h.file), before, 'contacts.json byte for byte the same');
  t.equal(h.events.length, events, 'no event');
  t.same(
    h.manager.list().map((c) => c.nickname),
    ['Eve'],
  );
  await h.manager.close();
});

t.test('export refuses a card that would not import', async (t) => {
  t.throws(() => exportContact({ ...cardOf(alice, 'Alice'), nickname: '' }), {
    code: 'PH_ERR_CONTACT_INVALID',
  });
});
