import t from 'tap';
import {
  KnownAnswerAssembler,
  MAX_HELD_QUERIES,
  TC_WAIT_MAX,
  TC_WAIT_MIN,
} from '../../../firmware/presence/assembler.js';
import { SERVICE_TYPE } from '../../../firmware/presence/constants.js';
import { FLAG_TC, type Message } from '../../../firmware/presence/wire.js';
import { browseQuery, servicePtr } from './fixtures/world.js';

const packet = (questions: boolean, answers: string[], tc: boolean): Message =>
  browseQuery(answers.map(servicePtr), { flags: tc ? FLAG_TC : 0, ...(questions ? {} : { questions: [] }) });
const A = { address: '10.0.0.2', port: 5353 };
const B = { address: '10.0.0.3', port: 5353 };
const half = (): number => 0.5;
const targets = (m: Message): string[] => m.answers.map((a) => (a.data.kind === 'PTR' ? a.data.target : ''));

t.test('a query without TC, a response: handled at once', async (t) => {
  const asm = new KnownAnswerAssembler();
  t.same(asm.offer(packet(true, ['x'], false), A, 0, half), { type: 'pass' });
  t.same(asm.offer({ ...packet(false, ['x'], true), response: true }, A, 0, half), { type: 'pass' });
  t.equal(asm.nextDeadline(), null, 'nothing held');
});

t.test('TC query + continuations from the same source: one query with every known answer', async (t) => {
  const asm = new KnownAnswerAssembler();
  t.same(asm.offer(packet(true, ['a', 'b'], true), A, 1000, half), { type: 'held', release: [] });
  const wait = asm.nextDeadline()! - 1000;
  t.ok(wait >= TC_WAIT_MIN && wait <= TC_WAIT_MAX, `waits ${wait} ms (400–500)`);
  t.same(asm.offer(packet(false, ['z'], false), B, 1010, half), { type: 'orphan' }, 'another source');
  t.same(asm.offer(packet(false, ['c'], true), A, 1100, half), { type: 'held', release: [] }, 'more to come');
  t.equal(asm.nextDeadline(), 1100 + wait, 'the wait starts again from the latest packet');
  const r = asm.offer(packet(false, ['d'], false), A, 1200, half);
  t.equal(r.type, 'merged');
  if (r.type !== 'merged') return;
  t.same(
    targets(r.query.message),
    ['a', 'b', 'c', 'd'].map((l) => `${l}.${SERVICE_TYPE}`),
  );
  t.equal(r.query.message.questions.length, 1, 'the questions of the first packet');
  t.equal(r.query.message.flags & FLAG_TC, 0, 'TC cleared');
  t.same(r.query.from, A);
  t.equal(asm.nextDeadline(), null, 'nothing held any more');
  t.same(asm.offer(packet(false, ['e'], false), A, 1300, half), { type: 'orphan' }, 'a late continuation');
});

t.test('continuations lost: the query goes on after the wait with what came', async (t) => {
  const asm = new KnownAnswerAssembler();
  asm.offer(packet(true, ['a'], true), A, 0, () => 0);
  t.same(asm.due(TC_WAIT_MIN - 1), [], 'not yet');
  const due = asm.due(TC_WAIT_MIN);
  t.equal(due.length, 1);
  t.same(targets(due[0]!.message), [`a.${SERVICE_TYPE}`]);
  t.equal(due[0]!.message.flags & FLAG_TC, 0);
});

t.test('a new query from a source releases its held one; the number held is bounded', async (t) => {
  const asm = new KnownAnswerAssembler();
  asm.offer(packet(true, ['a'], true), A, 0, half);
  const r = asm.offer(packet(true, ['b'], true), A, 10, half);
  t.equal(r.type, 'held');
  if (r.type === 'held')
    t.same(
      r.release.map((q) => targets(q.message)),
      [[`a.${SERVICE_TYPE}`]],
    );
  const big = new KnownAnswerAssembler();
  let released = 0;
  for (let i = 0; i < MAX_HELD_QUERIES + 10; i++) {
    const got = big.offer(
      packet(true, ['x'], true),
      { address: `10.1.${i >> 8}.${i & 255}`, port: 5353 },
      i,
      half,
    );
    if (got.type === 'held') released += got.release.length;
  }
  t.equal(released, 10, 'the oldest are handed on early');
  t.equal(big.due(10_000).length, MAX_HELD_QUERIES, 'never more than MAX_HELD_QUERIES held');
});
