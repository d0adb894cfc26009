import t from 'tap';
import { SERVICE_TYPE } from '../../../firmware/presence/constants.js';
import { fitKnownAnswers, MAX_QUERY_BYTES } from '../../../firmware/presence/known-answers.js';
import {
  CLASS_IN,
  TYPE,
  encodeMessage,
  type Message,
  type ResourceRecord,
} from '../../../firmware/presence/wire.js';
import { ann, world } from './fixtures/world.js';

const ptr = (label: string): ResourceRecord => ({
  name: SERVICE_TYPE,
  type: TYPE.PTR,
  klass: CLASS_IN,
  flush: false,
  ttl: 60,
  data: { kind: 'PTR', target: `${label}.${SERVICE_TYPE}` },
});
const browse = (answers: ResourceRecord[]): Message => ({
  id: 0,
  flags: 0,
  response: false,
  questions: [{ name: SERVICE_TYPE, type: TYPE.PTR, klass: CLASS_IN, qu: false }],
  answers,
  authorities: [],
  additionals: [],
});

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

t.test('on a LAN of 45 hubs a browse query lists all 44 others (the old cap was 40)', async (t) => {
  const w = world();
  const nodes = Array.from({ length: 45 }, (_, i) => w.node(`10.77.0.${i + 1}`, { hostname: `hub${i}` }));
  for (const n of nodes) await n.svc.start();
  nodes.forEach((n, i) => n.svc.announce(ann(i)));
  w.clock.advance(20_000);
  t.equal(nodes[0]!.svc.peers().length, 44, 'node 0 sees the 44 others');
  const before = w.sent('10.77.0.1').length;
  w.clock.advance(70_000); // the next browse query (the schedule has doubled past 32 s)
  const queries = w
    .sent('10.77.0.1')
    .slice(before)
    .filter((s) => !s.msg.response && s.msg.questions.some((q) => q.type === TYPE.PTR));
  t.ok(queries.length > 0, 'a browse query went out');
  const listed = Math.max(...queries.map((s) => s.msg.answers.length));
  t.equal(listed, 44, 'every other hub is a known answer');
  for (const n of nodes) await n.svc.stop();
});
