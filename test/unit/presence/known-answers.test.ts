import t from 'tap';
import {
  MAX_QUERY_BYTES,
  fitKnownAnswers,
  splitKnownAnswers,
} from '../../../firmware/presence/known-answers.js';
import {
  FLAG_TC,
  TYPE,
  decodeMessage,
  encodeMessage,
  type Message,
  type ResourceRecord,
} from '../../../firmware/presence/wire.js';
import { ann, browseQuery, servicePtr, world } from './fixtures/world.js';

const ptr = servicePtr;
const browse = (answers: ResourceRecord[]): Message => browseQuery(answers);

t.test('a query that fits is sent as it is', async (t) => {
  const m = browse(Array.from({ length: 60 }, (_, i) => ptr(`F${i}`)));
  t.ok(encodeMessage(m).length <= MAX_QUERY_BYTES, '60 short names fit one packet');
  t.equal(fitKnownAnswers(m), m);
});

t.test('too many known answers: the longest prefix that fits, and not one more', async (t) => {
  const answers = Array.from({ length: 200 }, (_, i) => ptr(`Living room hub number ${i}`));
  const fitted = fitKnownAnswers(browse(answers));
  const n = fitted.answers.length;
  t.ok(n > 0 && n < 200, `${n} of 200 kept`);
  t.same(fitted.answers, answers.slice(0, n), 'a prefix, in order');
  t.ok(encodeMessage(fitted).length <= MAX_QUERY_BYTES);
  t.ok(encodeMessage(browse(answers.slice(0, n + 1))).length > MAX_QUERY_BYTES, 'one more would not fit');
  const bare = encodeMessage(browse([])).length;
  t.equal(fitKnownAnswers(browse(answers), bare).answers.length, 0, 'no room at all: questions only');
});

t.test(
  '§7.2: a list too long for one packet goes on in continuation packets, TC on all but the last',
  async (t) => {
    const answers = Array.from({ length: 200 }, (_, i) => ptr(`Living room hub number ${i}`));
    const packets = splitKnownAnswers(browse(answers));
    t.ok(packets.length > 2, `${packets.length} packets`);
    t.same(
      packets.flatMap((p) => p.answers),
      answers,
      'every known answer once, in order',
    );
    for (const [i, p] of packets.entries()) {
      const last = i === packets.length - 1;
      t.ok(encodeMessage(p).length <= MAX_QUERY_BYTES, `packet ${i} fits`);
      t.equal((decodeMessage(encodeMessage(p)).flags & FLAG_TC) !== 0, !last, `packet ${i}: TC ${!last}`);
      t.equal(p.questions.length, i === 0 ? 1 : 0, `packet ${i}: questions only in the first`);
    }
    const capped = splitKnownAnswers(browse(answers), MAX_QUERY_BYTES, 2);
    t.equal(capped.length, 2, 'at most maxPackets');
    t.equal(capped[1]!.flags & FLAG_TC, 0, 'the last one sent has no TC');
    const one = splitKnownAnswers(browse(answers.slice(0, 3)));
    t.same(one, [browse(answers.slice(0, 3))], 'a list that fits: one packet, unchanged');
  },
);

t.test(
  'on a LAN of 45 hubs with long names, a browse query lists all 44 others and none answers',
  async (t) => {
    const w = world();
    const nodes = Array.from({ length: 45 }, (_, i) => w.node(`10.77.0.${i + 1}`, { hostname: `hub${i}` }));
    for (const n of nodes) await n.svc.start();
    nodes.forEach((n, i) => n.svc.announce(ann(i, { nickname: `The living room hub number ${i}` })));
    w.clock.advance(20_000);
    t.equal(nodes[0]!.svc.peers().length, 44, 'node 0 sees the 44 others');
    const before = w.lan.log.length;
    w.clock.advance(70_000); // the next browse query (the schedule has doubled past 32 s)
    const window = w.lan.log.slice(before).map((p) => ({ ...p, msg: decodeMessage(p.packet) }));
    const first = window.findIndex(
      (p) =>
        p.from.address === '10.77.0.1' && !p.msg.response && p.msg.questions.some((q) => q.type === TYPE.PTR),
    );
    t.ok(first >= 0, 'a browse query went out');
    const query = [window[first]!];
    for (const p of window.slice(first + 1)) {
      if (p.from.address !== '10.77.0.1' || p.msg.questions.length > 0) break;
      query.push(p);
    }
    t.ok(query.length > 1, `it took ${query.length} packets`);
    t.equal(query[0]!.msg.flags & FLAG_TC, FLAG_TC, 'the first has TC');
    t.equal(
      new Set(query.flatMap((p) => p.msg.answers.map((a) => a.data.kind === 'PTR' && a.data.target))).size,
      44,
      'every other hub is a known answer',
    );
    const answered = window.filter(
      (p) => p.msg.response && p.at >= query[0]!.at && p.at <= query[0]!.at + 1000,
    );
    t.same(
      answered.map((p) => p.from.address),
      [],
      'nobody answered it',
    );
    t.same(
      nodes.flatMap((n) => n.of('peer:lost')),
      [],
      'and nobody lost anyone',
    );
    for (const n of nodes) await n.svc.stop();
  },
);
