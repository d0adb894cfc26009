import t from 'tap';
import { recordKey } from '../../../firmware/presence/records.js';
import { rdataBytes, type RData } from '../../../firmware/presence/wire.js';
import { rr } from './fixtures/world.js';

// recordKey builds the rdata part from the decoded fields, without encoding them: it must say "same"
// exactly when the uncompressed wire bytes are the same.
const corpus: RData[] = [
  { kind: 'A', address: '10.77.0.1' },
  { kind: 'A', address: '10.77.0.10' },
  { kind: 'PTR', target: 'Kitchen._peerhub._tcp.local' },
  { kind: 'PTR', target: 'kitchen._peerhub._tcp.local' },
  { kind: 'PTR', target: 'Mr\\. Smith._peerhub._tcp.local' },
  { kind: 'PTR', target: 'Mr. Smith._peerhub._tcp.local' },
  { kind: 'SRV', priority: 0, weight: 0, port: 7443, target: 'h.local' },
  { kind: 'SRV', priority: 0, weight: 7443, port: 0, target: 'h.local' },
  { kind: 'SRV', priority: 0, weight: 0, port: 7443, target: 'H.local' },
  { kind: 'TXT', strings: [] },
  { kind: 'TXT', strings: [Buffer.alloc(0)] },
  { kind: 'TXT', strings: [Buffer.alloc(0), Buffer.from('a')] },
  { kind: 'TXT', strings: [Buffer.from('a')] },
  { kind: 'TXT', strings: [Buffer.from('ab')] },
  { kind: 'TXT', strings: [Buffer.from('a'), Buffer.from('b')] },
  { kind: 'TXT', strings: [Buffer.from('1:a')] },
  { kind: 'TXT', strings: [Buffer.from([0xc3, 0xa9])] },
  { kind: 'TXT', strings: [Buffer.from('é', 'latin1')] },
  { kind: 'raw', bytes: Buffer.from([1, 2, 3]) },
  { kind: 'raw', bytes: Buffer.from([1, 2]) },
];

t.test('record keys are equal exactly when the rdata bytes are', async (t) => {
  let pairs = 0;
  for (const a of corpus) {
    for (const b of corpus) {
      if (a.kind !== b.kind) continue; // another type is another RRset: the key differs anyway
      const sameBytes = rdataBytes(a).equals(rdataBytes(b));
      const ka = recordKey(rr('x.local', a));
      const kb = recordKey(rr('x.local', { ...b } as RData)); // a copy: the memo is per object
      t.equal(ka === kb, sameBytes, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      pairs++;
    }
  }
  t.ok(pairs > 60, `${pairs} pairs compared`);
});

t.test('AAAA (decoded only, never encoded by us): the same address is the same record', async (t) => {
  const a = (address: string): string => recordKey(rr('h.local', { kind: 'AAAA', address }));
  t.equal(a('fe80::1'), a('fe80::1'));
  t.not(a('fe80::1'), a('fe80::2'));
});

t.test('the RRset part of the key: name case-insensitive, type and class apart', async (t) => {
  const data: RData = { kind: 'A', address: '10.0.0.1' };
  t.equal(recordKey(rr('H.Local', data)), recordKey(rr('h.local', data)));
  t.not(recordKey(rr('h.local', data)), recordKey({ ...rr('h.local', data), klass: 255 }));
  t.not(recordKey(rr('h.local', data)), recordKey(rr('g.local', data)));
});
