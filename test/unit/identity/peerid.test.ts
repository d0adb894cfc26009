import t from 'tap';
import { createHash } from 'node:crypto';
import { isPeerhubError } from '../../../firmware/core/errors.js';
import {
  base32,
  formatPeerId,
  isPeerId,
  luhn32,
  parsePeerId,
  parsePeerName,
  peerIdFromSpki,
  peerName,
  shortId,
} from '../../../firmware/identity/index.js';

// Syncthing's published vector (lib/protocol/deviceid_test.go): the same base32 + Luhn-32 rule, so the
// same strings must agree (an independent check of the check characters).
const FORMATTED = 'P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2';
const DIGEST_HEX = '7f7c8723ecca5b4d22061c4981b34c34d865ec376be1eb74330873c9a6f9b205';

t.test('base32 matches RFC 4648 (no padding)', async (t) => {
  const table: Array<[string, string]> = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  for (const [input, want] of table) t.equal(base32(Buffer.from(input)), want, JSON.stringify(input));
});

t.test('peerIdFromSpki = grouped base32(SHA-256) with check characters', async (t) => {
  // base32 digests computed independently (python3 base64.b32encode).
  const table: Array<[string, string]> = [
    ['', '4OYMIQUY7QOBJGX36TEJS35ZEQT24QPEMSNZGTFESWMRW6CSXBKQ'],
    ['peerhub', 'DCTDPKDOOB34KUYNWRLKIOZCBOORWN43PONJFA6HYP564YJJE2HQ'],
  ];
  for (const [input, raw] of table) {
    const id = peerIdFromSpki(Buffer.from(input));
    t.match(id, /^([A-Z2-7]{7}-){7}[A-Z2-7]{7}$/, 'eight groups of seven');
    t.equal(id.length, 63);
    t.equal(id.replace(/-/g, '').length, 56);
    const compact = id.replace(/-/g, '');
    const groups = [0, 1, 2, 3].map((i) => compact.slice(i * 14, i * 14 + 13)).join('');
    t.equal(groups, raw, 'data characters are the base32 digest');
    t.equal(parsePeerId(raw), id, 'parsing the unchecked form adds the same check characters');
  }
  t.equal(formatPeerId(Buffer.from(DIGEST_HEX, 'hex')), FORMATTED, 'Syncthing vector');
  t.equal(
    peerIdFromSpki(Buffer.from('x')),
    formatPeerId(createHash('sha256').update('x').digest()),
    'SHA-256 over the DER',
  );
  t.throws(() => formatPeerId(Buffer.alloc(31)), /32 bytes/);
});

t.test('luhn32 check characters (Syncthing variant)', async (t) => {
  t.equal(luhn32('P56IOI7MZJNU2'), 'Y');
  t.equal(luhn32('IQGDREYDM2MGT'), 'I');
  t.equal(luhn32('MGL3BXNPQ6W5B'), 'M');
  t.equal(luhn32('TBBZ4TJXZWICQ'), '2');
  t.throws(() => luhn32('abc'), /not base32/);
});

t.test('parsePeerId is lenient about form', async (t) => {
  const accepted = [
    FORMATTED,
    'P56IOI-7MZJNU-2IQGDR-EYDM2M-GTMGL3-BXNPQ6-W5BTBB-Z4TJXZ-WICQ',
    'P56IOI-7MZJNU2Y-IQGDR-EYDM2M-GTI-MGL3-BXNPQ6-W5BM-TBB-Z4TJXZ-WICQ2',
    'P56IOI7 MZJNU2I QGDREYD M2MGTMGL 3BXNPQ6W 5BTB BZ4T JXZWICQ',
    'P56IOI7 MZJNU2Y IQGDREY DM2MGTI MGL3BXN PQ6W5BM TBBZ4TJ XZWICQ2',
    'P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICQ',
    'p56ioi7mzjnu2iqgdreydm2mgtmgl3bxnpq6w5btbbz4tjxzwicq',
    'P56IOI7MZJNU2YIQGDREYDM2MGTIMGL3BXNPQ6W5BMTBBZ4TJXZWICQ2',
    'P561017MZJNU2YIQGDREYDM2MGTIMGL3BXNPQ6W5BMT88Z4TJXZWICQ2',
    'p56ioi7mzjnu2yiqgdreydm2mgtimgl3bxnpq6w5bmtbbz4tjxzwicq2',
    'p561017mzjnu2yiqgdreydm2mgtimgl3bxnpq6w5bmt88z4tjxzwicq2',
    `  ${FORMATTED.toLowerCase()}\n`,
    FORMATTED.replace(/-/g, ' '),
  ];
  for (const s of accepted) t.equal(parsePeerId(s), FORMATTED, JSON.stringify(s));
  t.ok(isPeerId(FORMATTED));
});

t.test('parsePeerId rejects what is not a peer id', async (t) => {
  const rejected: Array<[string, RegExp]> = [
    ['', /expected 56 characters/],
    ['a', /expected 56/],
    ['P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICQCCCC', /check character 1 of 4/],
    ['p56ioi7mzjnu2iqgdreydm2mgtmgl3bxnpq6w5btbbz4tjxzwicqCCCC', /check character 1 of 4/],
    ['P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICQCCCCC', /expected 56/],
    [FORMATTED.slice(0, -1), /expected 56/],
    [FORMATTED.replace('Y', 'Z'), /check character 1 of 4 is Z, expected Y/],
    [FORMATTED.replace('2Y-I', '2Y-J'), /check character 2 of 4/], // a typo in the data
    [FORMATTED.replace('CQ2', 'CQ3'), /check character 4 of 4 is 3, expected 2/],
    [FORMATTED.replace('P56', 'P!6'), /character "!" is not base32/],
    [FORMATTED.replace('P56', 'P96'), /character "9" is not base32/],
    // 52 characters whose padding bits are set: no SHA-256 digest encodes to this.
    ['P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICB', /not the encoding of a SHA-256 digest/],
  ];
  for (const [s, re] of rejected) {
    const err = t.throws(() => parsePeerId(s), re, JSON.stringify(s));
    t.ok(isPeerhubError(err, 'PH_ERR_PEER_ID_INVALID'), 'stable code');
    t.equal((err as { statusCode?: number }).statusCode, 400);
  }
  t.notOk(isPeerId('nope'));
});

t.test(
  'parsePeerId gives the same answers when it has seen an input before (and past its memory)',
  async (t) => {
    const lenient = [FORMATTED.toLowerCase(), FORMATTED.replace(/-/g, ' '), `  ${FORMATTED}\n`];
    for (let round = 0; round < 3; round++) {
      for (const s of lenient) t.equal(parsePeerId(s), FORMATTED, `round ${round}: ${JSON.stringify(s)}`);
      // A refused input stays refused however often it is asked (errors are never remembered).
      t.throws(() => parsePeerId(FORMATTED.replace('Y', 'Z')), /check character 1 of 4/, `round ${round}`);
    }
    // Many distinct ids (more than the 1024 remembered): each parses to its own canonical form, the
    // earliest ones included once the memory has been emptied.
    const ids = Array.from({ length: 1500 }, (_, i) =>
      formatPeerId(createHash('sha256').update(`hub ${i}`).digest()),
    );
    for (const id of ids) t.equal(parsePeerId(id.toLowerCase()), id);
    const again = [ids[0], ids[700], ids[1499]] as string[];
    for (const id of again) {
      t.equal(parsePeerId(id.replace(/-/g, '')), id);
      t.equal(parsePeerId(id.toLowerCase()), id);
    }
    // Longer spellings (spaces between every character) are parsed, not remembered, and still right.
    t.equal(parsePeerId(FORMATTED.split('').join(' ')), FORMATTED);
  },
);

t.test('shortId is the first group', async (t) => {
  t.equal(shortId(FORMATTED), 'P56IOI7');
  t.equal(shortId(FORMATTED.toLowerCase().replace(/-/g, '')), 'P56IOI7');
  t.throws(() => shortId('nope'), /invalid peer id/);
});

t.test('peerName = <peer id>.<classifier>', async (t) => {
  const ok: Array<[string, string]> = [
    ['kitchen-hub', 'kitchen-hub'],
    ['Kitchen-Hub', 'kitchen-hub'],
    ['a', 'a'],
    ['hub2', 'hub2'],
    ['x'.repeat(63), 'x'.repeat(63)],
  ];
  for (const [c, want] of ok) t.equal(peerName(FORMATTED.toLowerCase(), c), `${FORMATTED}.${want}`, c);
  const bad = ['', '-hub', 'hub-', 'kitchen hub', 'kitchen.hub', 'küche', 'x'.repeat(64), 'hub_1'];
  for (const c of bad) {
    const err = t.throws(() => peerName(FORMATTED, c), /invalid classifier/, JSON.stringify(c));
    t.ok(isPeerhubError(err, 'PH_ERR_PEER_NAME_INVALID'));
  }
  t.throws(() => peerName('nope', 'hub'), /invalid peer id/);
  t.same(parsePeerName(`${FORMATTED.toLowerCase()}.Hub`), { peerId: FORMATTED, classifier: 'hub' });
  t.throws(() => parsePeerName(FORMATTED), /no '\.'/);
});
