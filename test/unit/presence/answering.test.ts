import t from 'tap';
import { SERVICE_TYPE, TTL_SERVICE_S } from '../../../firmware/presence/constants.js';
import { TYPE, decodeMessage } from '../../../firmware/presence/wire.js';
import { ann, q, query, rr, txt, world, type World } from './fixtures/world.js';

const INST = `Kitchen.${SERVICE_TYPE}`;
const ME = { address: '10.77.0.50', port: 5353 };

async function announced(w: World) {
  const a = w.node('10.77.0.1');
  await a.svc.start();
  a.svc.announce(ann(0));
  w.clock.advance(5000);
  return a;
}

/** Datagrams the responder sent after index `from`. */
const repliesAfter = (w: World, from: number) =>
  w.lan.log
    .slice(from)
    .filter((s) => s.from.address === '10.77.0.1')
    .map((s) => ({ ...s, msg: decodeMessage(s.packet) }))
    .filter((s) => s.msg.response);

t.test('PTR answer: delayed 20–120 ms (shared), multicast, SRV/TXT/A as additionals', async (t) => {
  const w = world();
  const a = await announced(w);
  w.clock.advance(2000);
  const mark = w.lan.log.length;
  w.lan.inject(query([q(SERVICE_TYPE, TYPE.PTR)]), ME);
  w.clock.advance(19);
  t.equal(repliesAfter(w, mark).length, 0, 'nothing before 20 ms');
  w.clock.advance(102);
  const r = repliesAfter(w, mark);
  t.equal(r.length, 1, 'one answer within 120 ms');
  t.equal(r[0]!.to, null, 'multicast');
  t.same(
    r[0]!.msg.answers.map((x) => x.type),
    [TYPE.PTR],
  );
  t.same(r[0]!.msg.additionals.map((x) => x.type).sort(), [TYPE.A, TYPE.TXT, TYPE.SRV].sort());
  t.equal(a.svc.counters().queriesAnswered!, 1);
  await a.svc.stop();
});

t.test('unique-only answers go out at once (no delay)', async (t) => {
  const w = world();
  const a = await announced(w);
  w.clock.advance(2000);
  const mark = w.lan.log.length;
  w.lan.inject(query([q('peerhub-aaaaaa.local', TYPE.A)]), ME);
  w.clock.advance(0);
  const r = repliesAfter(w, mark);
  t.equal(r.length, 1);
  t.equal(r[0]!.at, w.clock.now());
  t.equal(r[0]!.msg.answers[0]?.flush, true);
  await a.svc.stop();
});

t.test('known-answer suppression: a listed answer with ≥ half TTL is not repeated', async (t) => {
  const w = world();
  const a = await announced(w);
  w.clock.advance(2000);
  const ptr = rr(SERVICE_TYPE, { kind: 'PTR', target: INST }, TTL_SERVICE_S);
  let mark = w.lan.log.length;
  w.lan.inject(query([q(SERVICE_TYPE, TYPE.PTR)], [ptr]), ME);
  w.clock.advance(200);
  t.equal(repliesAfter(w, mark).length, 0, 'suppressed');
  t.equal(a.svc.counters().answersSuppressed!, 1);
  // Less than half our TTL left in the querier's cache → answer.
  mark = w.lan.log.length;
  w.lan.inject(query([q(SERVICE_TYPE, TYPE.PTR)], [{ ...ptr, ttl: TTL_SERVICE_S / 2 - 1 }]), ME);
  w.clock.advance(200);
  t.equal(repliesAfter(w, mark).length, 1, 'answered');
  await a.svc.stop();
});

t.test('QU question: unicast reply to the querier when recently multicast', async (t) => {
  const w = world();
  const a = await announced(w);
  const mark = w.lan.log.length;
  w.lan.inject(query([q(INST, TYPE.SRV, true)]), ME);
  w.clock.advance(0);
  const r = repliesAfter(w, mark);
  t.same(
    r.map((x) => x.to),
    [ME],
  );
  t.same(
    r[0]!.msg.answers.map((x) => x.type),
    [TYPE.SRV],
  );
  t.same(
    r[0]!.msg.additionals.map((x) => x.type),
    [TYPE.A],
  );
  await a.svc.stop();
});

t.test('QU question for a record not multicast in ¼ TTL: multicast instead (§5.4)', async (t) => {
  const w = world();
  const a = await announced(w);
  w.clock.advance(40_000); // > 120 s / 4 since the last announcement of SRV
  const mark = w.lan.log.length;
  w.lan.inject(query([q(INST, TYPE.SRV, true)]), ME);
  w.clock.advance(0);
  t.same(
    repliesAfter(w, mark).map((x) => x.to),
    [null],
  );
  await a.svc.stop();
});

t.test('legacy unicast (source port ≠ 5353): id echoed, question repeated, TTL ≤ 10, unicast', async (t) => {
  const w = world();
  const a = await announced(w);
  const legacy = w.lan.transport('10.77.0.60', 40000);
  await legacy.open();
  const got: Buffer[] = [];
  legacy.onMessage((p) => got.push(p));
  legacy.send(query([q(SERVICE_TYPE, TYPE.PTR)], [], { id: 0x1234 }));
  w.clock.advance(200);
  t.equal(got.length, 1);
  const m = decodeMessage(got[0]!);
  t.equal(m.id, 0x1234);
  t.same(
    m.questions.map((x) => x.name),
    [SERVICE_TYPE],
  );
  t.ok([...m.answers, ...m.additionals].every((x) => x.ttl <= 10 && !x.flush));
  t.equal(a.svc.counters().legacyAnswered!, 1);
  await a.svc.stop();
});

t.test('a record is multicast at most once a second', async (t) => {
  const w = world();
  const a = await announced(w);
  w.clock.advance(2000);
  const mark = w.lan.log.length;
  w.lan.inject(query([q('peerhub-aaaaaa.local', TYPE.A)]), ME);
  w.clock.advance(10);
  w.lan.inject(query([q('peerhub-aaaaaa.local', TYPE.A)]), { address: '10.77.0.51', port: 5353 });
  w.clock.advance(10);
  t.equal(repliesAfter(w, mark).length, 1);
  t.equal(a.svc.counters().rateLimited!, 1);
  await a.svc.stop();
});

t.test('hostile input: malformed, off-link, absurd rdata, wrong port — counted, never thrown', async (t) => {
  const w = world();
  const a = await announced(w);
  const src = { address: '10.77.0.66', port: 5353 };
  w.lan.inject(Buffer.from([1, 2, 3]), src);
  w.lan.inject(Buffer.from('000000000001000000000000c00c', 'hex'), src); // pointer loop in a question
  const good = query([q(SERVICE_TYPE, TYPE.PTR)]);
  w.lan.inject(Buffer.concat([good.subarray(0, 4), Buffer.from([0xff, 0xff]), good.subarray(6)]), src); // count
  // A record with a 2-byte rdata inside an otherwise valid response
  const resp = Buffer.from(
    '000084000000000100000000' + '01780000010001' + '00000078' + '0002' + '0102',
    'hex',
  );
  w.lan.inject(resp, src);
  w.lan.inject(good, { address: '192.168.99.9', port: 5353 });
  w.lan.inject(good, { address: 'fe80::1', port: 5353 });
  const ptr = rr(SERVICE_TYPE, { kind: 'PTR', target: `Evil.${SERVICE_TYPE}` });
  const { response } = await import('./fixtures/world.js');
  w.lan.inject(response([ptr]), { address: '10.77.0.66', port: 4444 });
  for (let i = 0; i < 200; i++) {
    const junk = Buffer.from(good);
    junk[(i * 7) % junk.length] = (i * 37) & 0xff;
    w.lan.inject(junk, src);
  }
  t.doesNotThrow(() => w.clock.advance(2000));
  const c = a.svc.counters();
  t.ok(c.malformed! >= 4, `malformed ${c.malformed}`);
  t.equal(c.offlink, 2);
  t.equal(c.badPort, 1);
  t.equal(c.errors, 0);
  t.equal(a.svc.peers().length, 0);
  const warns = a.lines.filter((l) => l.level === 'warn' && l.source === '10.77.0.66');
  t.equal(warns.length, 1, 'warned once per source');
  await a.svc.stop();
});

t.test('non-peerhub TXT (avahi-publish) and garbage TXT → listed unverified, status Unknown', async (t) => {
  const w = world();
  const a = await announced(w);
  const { response } = await import('./fixtures/world.js');
  const src = { address: '10.77.0.70', port: 5353 };
  const mk = (label: string, host: string, data: ReturnType<typeof txt>) => [
    rr(SERVICE_TYPE, { kind: 'PTR', target: `${label}.${SERVICE_TYPE}` }, 4500),
    rr(
      `${label}.${SERVICE_TYPE}`,
      { kind: 'SRV', priority: 0, weight: 0, port: 9000, target: host },
      120,
      true,
    ),
    rr(`${label}.${SERVICE_TYPE}`, data, 4500, true),
    rr(host, { kind: 'A', address: '10.77.0.70' }, 120, true),
  ];
  w.lan.inject(response(mk('Avahi box', 'avahi.local', txt(''))), src);
  w.lan.inject(
    response(mk('Liar', 'liar.local', txt('v=1', 'id=not a peer id', 'st=Dancing', 'seq=x'))),
    src,
  );
  w.lan.inject(response(mk('Spoof', 'spoof.local', txt('v=2', '=', 'id', '\u00ff\u00fe'))), src);
  w.clock.advance(100);
  const peers = a.svc.peers().sort((x, y) => x.instance.localeCompare(y.instance));
  t.same(
    peers.map((p) => [p.instance, p.wellFormed, p.status, p.id, p.endpoints]),
    [
      ['Avahi box', false, 'Unknown', null, ['10.77.0.70:9000']],
      ['Liar', false, 'Unknown', null, ['10.77.0.70:9000']],
      ['Spoof', false, 'Unknown', null, ['10.77.0.70:9000']],
    ],
  );
  await a.svc.stop();
});

t.test('passive observation of failures (§10.5): three unanswered queries → lost within 10 s', async (t) => {
  const w = world();
  const a = w.node('10.77.0.1');
  const b = w.node('10.77.0.2');
  await a.svc.start();
  await b.svc.start();
  a.svc.announce(ann(0));
  w.clock.advance(5000);
  await a.transport.close(); // gone, but its records have 75 min left in b's cache
  const ask = (question: Buffer, from: string[]) => {
    for (const address of from) {
      w.lan.inject(question, { address, port: 5353 });
      w.clock.advance(1000);
    }
  };
  const probe = query([q(`Kitchen.${SERVICE_TYPE}`, TYPE.SRV)]);
  ask(probe, ['10.77.0.3', '10.77.0.4']);
  w.clock.advance(9_000);
  t.same(b.of('peer:changed'), [], 'two unanswered queries are not enough (a lost answer or two)');
  ask(probe, ['10.77.0.3', '10.77.0.4', '10.77.0.5']);
  w.clock.advance(8_100);
  t.same(b.of('peer:changed').at(-1)?.endpoints, [], 'SRV flushed by POOF: no endpoints');
  ask(query([q(SERVICE_TYPE, TYPE.PTR)]), ['10.77.0.3', '10.77.0.4', '10.77.0.5']);
  w.clock.advance(8_000);
  t.same(
    b.of('peer:lost').map((l) => l.reason),
    ['failure'],
  );
  await b.svc.stop();
});
