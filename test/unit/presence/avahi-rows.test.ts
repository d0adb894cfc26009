import t from 'tap';
import {
  buildRow,
  buildTable,
  endpointOf,
  entryKey,
  type BrowseEntry,
} from '../../../firmware/presence/avahi/rows.js';
import { announcementTxt, txtFromDbus, txtKey } from '../../../firmware/presence/avahi/txt.js';
import { buildTxt, parseTxt } from '../../../firmware/presence/names.js';
import type { Announcement } from '../../../firmware/presence/types.js';

const ID = 'AAAA-BBBB-CCCC-DDDD';
const OTHER = 'EEEE-FFFF-GGGG-HHHH';
const ann = (over: Partial<Announcement> = {}): Announcement => ({
  nickname: 'Kitchen',
  peerId: ID,
  status: 'Online',
  seq: 3,
  port: 7443,
  ...over,
});

t.test('TXT: the same strings as the multicast-dns backend, and back from D-Bus', async (t) => {
  const a = ann({ status: 'Busy', seq: 9 });
  const txt = announcementTxt(a);
  t.same(
    txt.map((b) => b.toString()),
    buildTxt(a).map((b) => b.toString()),
  );
  t.same(
    txt.map((b) => b.toString()),
    ['v=1', `id=${ID}`, 'st=Busy', 'seq=9'],
  );
  t.same(txtFromDbus(txt).map(String), txt.map(String), 'Buffers');
  t.same(txtFromDbus(txt.map((b) => [...b])).map(String), txt.map(String), 'arrays of numbers');
  t.same(txtFromDbus(txt.map((b) => new Uint8Array(b))).map(String), txt.map(String), 'Uint8Arrays');
  t.same(txtFromDbus('nope'), []);
  t.same(txtFromDbus([[300], 'x', null]), [], 'junk dropped, never throws');
  t.equal(txtKey(txt), txtKey(announcementTxt(a)));
  t.not(txtKey(txt), txtKey(announcementTxt({ ...a, seq: 10 })));
  t.throws(() => announcementTxt(ann({ peerId: 'A'.repeat(300) })), RangeError, 'too large: refused');
});

t.test('row: NearbyPeer shape, validation as peers.ts', async (t) => {
  const txt = announcementTxt(ann({ peerId: OTHER, status: 'Away', seq: 4 }));
  const row = buildRow(
    'Bob (2)',
    { host: 'peerhub-x.local', address: '10.77.0.2', aprotocol: 0, port: 7443, txt, at: 50 },
    10,
  );
  t.same(row, {
    instance: 'Bob (2)',
    id: OTHER,
    nickname: 'Bob',
    status: 'Away',
    seq: 4,
    host: 'peerhub-x.local',
    port: 7443,
    endpoints: ['10.77.0.2:7443'],
    wellFormed: true,
    txt: parseTxt(txt).txt,
    firstSeen: 10,
    lastSeen: 50,
  });
  const bad = buildRow(
    'Thing',
    { host: 'h.local', address: '10.77.0.3', aprotocol: 0, port: 7000, txt: [Buffer.from('foo=bar')], at: 1 },
    1,
  );
  t.equal(bad.wellFormed, false);
  t.equal(bad.id, null);
  t.equal(bad.status, 'Unknown');
  t.same(bad.txt, { foo: 'bar' });
  t.equal(endpointOf('fe80::1', 7443, 1), '[fe80::1]:7443');
  t.equal(endpointOf('10.0.0.1', 1, 0), '10.0.0.1:1');
});

t.test('table: only resolved, present instances that are not ours', async (t) => {
  const r = (id: string) => ({
    host: 'h.local',
    address: '10.77.0.9',
    aprotocol: 0,
    port: 7443,
    txt: announcementTxt(ann({ peerId: id })),
    at: 1,
  });
  const e = (name: string, over: Partial<BrowseEntry>): [string, BrowseEntry] => [
    entryKey(name),
    { name, where: new Set(['2/0']), ours: false, resolved: r(OTHER), firstSeen: 1, ...over },
  ];
  const entries = new Map([
    e('Bob', {}),
    e('Unresolved', { resolved: null }),
    e('Gone', { where: new Set() }),
    e('Flagged', { ours: true }),
    e('Kitchen', {}), // our instance name (case-insensitive match below)
    e('Twin', { resolved: r(ID) }), // our peer id under another name
  ]);
  const table = buildTable(entries, { instance: 'KITCHEN', peerId: ID });
  t.same([...table.keys()], ['bob']);
});
