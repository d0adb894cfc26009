import t from 'tap';
import {
  TYPE,
  WireError,
  decodeMessage,
  encodeMessage,
  nameKey,
  splitName,
  type Message,
} from '../../../firmware/presence/wire.js';
import { q, rr, seeded, txt } from './fixtures/world.js';

const base: Message = {
  id: 0,
  flags: 0,
  response: false,
  questions: [],
  answers: [],
  authorities: [],
  additionals: [],
};

t.test('round trip keeps QU and cache-flush bits, dots inside labels, compression', async (t) => {
  const inst = 'Mr\\. Smith (2)._peerhub._tcp.local';
  const m: Message = {
    ...base,
    response: true,
    questions: [q(inst, TYPE.ANY, true)],
    answers: [
      rr('_peerhub._tcp.local', { kind: 'PTR', target: inst }, 4500),
      rr(inst, { kind: 'SRV', priority: 0, weight: 0, port: 7443, target: 'h.local' }, 120, true),
      rr(inst, txt('v=1', 'st=Online'), 4500, true),
      rr('h.local', { kind: 'A', address: '10.0.0.1' }, 120, true),
    ],
  };
  const buf = encodeMessage(m);
  const back = decodeMessage(buf);
  t.same(back.questions, m.questions);
  t.equal(back.answers[1]?.flush, true);
  t.equal(back.answers[0]?.flush, false);
  t.same(back.answers[0]?.data, { kind: 'PTR', target: inst });
  t.same(splitName(inst)[0], 'Mr. Smith (2)');
  t.ok(buf.length < 200, `compressed (${buf.length} bytes)`);
});

t.test('names: compression keyed case-insensitively on escaped suffixes; keys fold ASCII only', async (t) => {
  const names = ['Kitchen.Local', 'hall.local', 'a\\.b.local', 'B.local', 'x.A\\.B.LOCAL', 'x.a.b.local'];
  const m: Message = {
    ...base,
    response: true,
    answers: names.map((n) => rr(n, { kind: 'PTR', target: n })),
  };
  const back = decodeMessage(encodeMessage(m));
  // A compression pointer may carry the case of the first writer of a suffix (names compare
  // case-insensitively); the labels themselves, escaped dots included, must come back.
  t.same(
    back.answers.map((a) => splitName(a.name).map((l) => l.toLowerCase())),
    names.map((n) => splitName(n).map((l) => l.toLowerCase())),
    'every name with its labels: an escaped dot is not a label boundary',
  );
  t.same(back.answers[0]?.name, 'Kitchen.Local', 'the first name as written');
  const alone = names.reduce(
    (sum, n) =>
      sum +
      encodeMessage({ ...base, response: true, answers: [rr(n, { kind: 'PTR', target: n })] }).length -
      12,
    0,
  );
  t.ok(encodeMessage(m).length - 12 < alone, 'shared suffixes compressed');
  t.equal(nameKey('Kitchen\\.Hub.LOCAL'), 'kitchen\\.hub.local');
  t.equal(nameKey('Élan.local'), 'Élan.local', 'non-ASCII letters are compared as they are (RFC 6762 §16)');
  t.equal(nameKey('hub.local'), 'hub.local');
});

t.test('bad input throws WireError only', async (t) => {
  const bad = [
    Buffer.alloc(5),
    Buffer.from('0000000000010000000000000000', 'hex'), // question truncated
    Buffer.from('000000000001000000000000c00c00010001', 'hex'), // pointer to itself
    Buffer.from('000084000000000100000000' + '0178000001000100000078000201020304', 'hex'), // A rdlen 2
    Buffer.from('000084000000000100000000' + '017800001000010000007800050a68656c6c6f', 'hex'), // TXT overflow
    Buffer.from('0000000000ff00ff00ff00ff', 'hex'), // absurd counts
  ];
  for (const b of bad) t.throws(() => decodeMessage(b), WireError);
});

t.test('fuzz: random mutations never throw anything but WireError', async (t) => {
  const random = seeded(1);
  const seed = encodeMessage({
    ...base,
    response: true,
    answers: [
      rr('a._peerhub._tcp.local', { kind: 'SRV', priority: 0, weight: 0, port: 1, target: 'h.local' }),
      rr('h.local', { kind: 'A', address: '1.2.3.4' }),
      rr('a._peerhub._tcp.local', txt('v=1')),
    ],
  });
  let other = 0;
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(seed);
    for (let k = 0; k < 1 + Math.floor(random() * 4); k++)
      b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
    try {
      decodeMessage(b.subarray(0, Math.floor(b.length * (0.5 + random() / 2))));
    } catch (e) {
      if (!(e instanceof WireError)) other++;
    }
  }
  t.equal(other, 0);
});

t.test('encoding refuses oversize labels and bad addresses', async (t) => {
  t.throws(() => encodeMessage({ ...base, questions: [q('x'.repeat(64) + '.local')] }), WireError);
  t.throws(
    () => encodeMessage({ ...base, answers: [rr('h.local', { kind: 'A', address: '1.2.3' })] }),
    WireError,
  );
});
