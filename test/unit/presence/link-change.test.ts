/**
 * RFC 6762 §13: after a link change (cable back in, another address) a responder probes and announces
 * again. On the in-memory LAN: a hub moving to another address, a link down and up, and a link down
 * for longer than the record TTLs.
 */
import t from 'tap';
import { TYPE } from '../../../firmware/presence/wire.js';
import { ann, world, type World } from './fixtures/world.js';

async function pair(w: World, init = {}) {
  const [a, b] = [w.node('10.77.0.1', init), w.node('10.77.0.2', init)];
  for (const n of [a, b]) await n.svc.start();
  a.svc.announce(ann(0));
  b.svc.announce(ann(1));
  w.clock.advance(10_000);
  return { a, b };
}

const nicknames = (n: { svc: { peers(): Array<{ nickname: string }> } }) =>
  n.svc.peers().map((p) => p.nickname);
const from = (w: World, address: string, since: number) => w.sent(address).filter((s) => s.at >= since);
const probes = (sent: ReturnType<typeof from>) =>
  sent.filter((s) => !s.msg.response && s.msg.authorities.length > 0);
const addressRecords = (sent: ReturnType<typeof from>) =>
  sent.flatMap((s) => (s.msg.response ? s.msg.answers : [])).filter((r) => r.type === TYPE.A);

t.test('a hub given another address probes, announces it and says goodbye to the old one', async (t) => {
  const w = world();
  const { a, b } = await pair(w);
  t.same(b.svc.peers()[0]?.endpoints, ['10.77.0.1:7443'], 'before: the first address');
  const since = w.clock.now();
  a.transport.setAddress('10.77.0.9');
  w.clock.advance(5_000);
  const sent = from(w, '10.77.0.9', since);
  t.equal(probes(sent).length, 3, 'three probes from the new address');
  const addrs = addressRecords(sent).map((r) => [r.data.kind === 'A' ? r.data.address : '', r.ttl]);
  t.ok(
    addrs.some(([ip, ttl]) => ip === '10.77.0.1' && ttl === 0),
    'goodbye (TTL 0) for the old address',
  );
  t.ok(
    addrs.some(([ip, ttl]) => ip === '10.77.0.9' && Number(ttl) > 0),
    'the new address announced',
  );
  t.same(b.svc.peers()[0]?.endpoints, ['10.77.0.9:7443'], 'the other hub has the new endpoint only');
  t.equal(b.of('peer:lost').length, 0, 'never lost on the way');
  t.same(nicknames(a), ['Office'], 'and the moved hub still sees the other');
  for (const n of [a, b]) await n.svc.stop();
});

t.test('link down: silence; link back up: probe and announce again, nobody lost', async (t) => {
  const w = world();
  const { a, b } = await pair(w);
  const down = w.clock.now();
  a.transport.setAddress(null);
  w.clock.advance(3_000);
  t.equal(from(w, '10.77.0.1', down).length, 0, 'nothing sent while the link is down');
  t.ok(
    a.lines.some((l) => /presence paused/.test(String(l.msg))),
    'logged',
  );
  const up = w.clock.now();
  a.transport.setAddress('10.77.0.1');
  w.clock.advance(3_000);
  const sent = from(w, '10.77.0.1', up);
  t.equal(probes(sent).length, 3, 'probed again');
  t.ok(addressRecords(sent).length >= 2, 'announced again (≥ 2 announcements)');
  t.ok(
    sent.some((s) => !s.msg.response && s.msg.questions.some((q) => q.type === TYPE.PTR)),
    'browsed again',
  );
  t.equal(b.of('peer:lost').length, 0, 'the other hub never lost it');
  t.equal(a.svc.peers().length, 1, 'and it still lists the other');
  for (const n of [a, b]) await n.svc.stop();
});

t.test(
  'a link down for longer than the TTLs: both sides find each other at once when it is back',
  async (t) => {
    const w = world();
    const { a, b } = await pair(w, { ttlHost: 8, ttlService: 8 });
    a.transport.setAddress(null);
    w.clock.advance(60_000);
    t.equal(b.svc.peers().length, 0, 'b: a expired meanwhile');
    t.equal(a.svc.peers().length, 0, 'a: b expired meanwhile');
    a.transport.setAddress('10.77.0.1');
    w.clock.advance(2_500); // probing (≤ 1 s) and the first announcement, the browse query's first answers
    t.same(nicknames(b), ['Kitchen'], 'b sees a again');
    t.same(nicknames(a), ['Office'], 'a sees b again');
    for (const n of [a, b]) await n.svc.stop();
  },
);

t.test('an address change before start or after stop is not acted on', async (t) => {
  const w = world();
  const a = w.node('10.77.0.1');
  a.transport.setAddress('10.77.0.5');
  await a.svc.start();
  a.svc.announce(ann(0));
  w.clock.advance(5_000);
  await a.svc.stop();
  const stopped = w.clock.now();
  a.transport.setAddress('10.77.0.6');
  w.clock.advance(5_000);
  t.equal(from(w, '10.77.0.6', stopped).length, 0, 'a stopped service sends nothing');
  t.ok(
    addressRecords(from(w, '10.77.0.5', 0)).some(
      (r) => r.data.kind === 'A' && r.data.address === '10.77.0.5',
    ),
    'the address at start is the one announced',
  );
});

t.test(
  'started before the network: silent, then the first address probes, announces and browses',
  async (t) => {
    const w = world();
    const b = w.node('10.77.0.2');
    await b.svc.start();
    b.svc.announce(ann(1));
    const a = w.node('10.77.0.1');
    a.transport.setAddress(null); // no address when the agent starts
    await a.svc.start();
    a.svc.announce(ann(0));
    w.clock.advance(5_000);
    t.equal(from(w, '10.77.0.1', 0).length, 0, 'nothing sent without an address');
    t.same(a.svc.names().instance, 'Kitchen', 'the announcement is kept for later');
    const up = w.clock.now();
    a.transport.setAddress('10.77.0.1');
    w.clock.advance(3_000);
    t.equal(probes(from(w, '10.77.0.1', up)).length, 3, 'probed once the address came');
    t.same(nicknames(b), ['Kitchen'], 'the other hub sees it');
    t.same(nicknames(a), ['Office'], 'and it sees the other');
    for (const n of [a, b]) await n.svc.stop();
  },
);
