import t from 'tap';
import { ManualClock } from '../../../firmware/core/clock.js';
import { BOB, CAROL, DAVE, HOST, network, T0, types, until } from './invitations-helpers.js';

t.test(
  'the whole flow: invite three, accept, decline, no response, tally, cancel the silent one',
  async (t) => {
    const net = network(t);
    const [h, b, c, d] = await Promise.all([net.hub(HOST), net.hub(BOB), net.hub(CAROL), net.hub(DAVE)]);
    const data = Buffer.from('launch-info').toString('base64');
    const opts = { sessionId: 's1', appId: 'chess', message: 'play?', data };
    const sent = await h.service.invite([BOB, CAROL, DAVE, BOB], opts);
    t.equal(sent.length, 3, 'a peer listed twice is invited once');
    t.ok(sent.every((i) => /^[0-9a-f]{32}$/.test(i.id) && i.state === 'pending' && i.direction === 'out'));
    await net.quiet();
    t.same(types(h), ['invitation:sent', 'invitation:sent', 'invitation:sent']);
    const [toB, toC, toD] = sent.map((i) => i.id) as [string, string, string];
    t.match(b.service.get(toB), {
      direction: 'in',
      peer: HOST,
      sessionId: 's1',
      appId: 'chess',
      message: 'play?',
      data,
    });
    t.match(b.service.get(toB), { state: 'pending', delivery: 'delivered', expiresAt: T0 + 5 * 60_000 });
    t.same(types(b), ['invitation:received']);
    const again = await h.service.invite([BOB], { sessionId: 's1', message: 'again' });
    t.same(
      again.map((i) => i.id),
      [toB],
      'a peer already invited to the session: the same invitation',
    );

    net.clock.advance(1000);
    t.match(await b.service.answer(toB, 'accepted'), {
      state: 'accepted',
      answeredAt: T0 + 1000,
      delivery: 'sending',
    });
    await c.service.answer(toC, 'declined');
    await net.quiet();
    t.match(h.service.get(toB), { state: 'accepted', answeredAt: T0 + 1000 });
    t.match(h.service.get(toC), { state: 'declined' });
    t.match(b.service.get(toB), { state: 'accepted', delivery: 'delivered' }, 'the host confirmed');
    t.match(c.service.get(toC), { state: 'declined', delivery: 'delivered' });
    await t.rejects(b.service.answer(toB, 'declined'), {
      code: 'PH_ERR_INVITATION_CLOSED',
      message: /already accepted/,
    });
    t.same(h.service.tally('s1'), { accepted: [BOB], declined: [CAROL], noResponse: [DAVE], failed: [] });

    const cancelled = await h.service.cancelNoResponse('s1');
    t.same(
      cancelled.map((i) => i.id),
      [toD],
    );
    await net.quiet();
    t.same(types(d), ['invitation:received', 'invitation:cancelled'], 'D is told');
    t.match(d.service.get(toD), { state: 'cancelled', reason: 'cancelled by the host' });
    t.match(h.service.get(toD), { state: 'cancelled', delivery: 'delivered' });
    t.same(h.service.tally('s1'), { accepted: [BOB], declined: [CAROL], noResponse: [DAVE], failed: [] });
    t.same(await h.service.cancelNoResponse('s1'), [], 'nothing left to cancel');
    await t.rejects(d.service.answer(toD, 'accepted'), {
      code: 'PH_ERR_INVITATION_CLOSED',
      message: /already cancelled/,
    });
    await t.rejects(h.service.cancel(toB), { code: 'PH_ERR_INVITATION_CLOSED' });
    await t.rejects(h.service.answer(toB, 'accepted'), { code: 'PH_ERR_INVITATION_INVALID' });
    t.throws(() => h.service.get('f'.repeat(32)), { code: 'PH_ERR_INVITATION_NOT_FOUND' });
    t.same(types(h).slice(3), ['invitation:answered', 'invitation:answered', 'invitation:cancelled']);
    t.same(
      h.service.list({ direction: 'out', state: 'accepted' }).map((i) => i.peer),
      [BOB],
    );
    t.same(b.service.list({ peer: HOST }).length, 1);
    t.equal(net.clock.pending, 0, 'no timers left for closed invitations');
  },
);

t.test(
  'expiry on both sides; an answer after the host expired is refused and the invitee told',
  async (t) => {
    const net = network(t);
    const h = await net.hub(HOST);
    const lagging = new ManualClock(T0 - 3_600_000); // a clock an hour off: only the time left travels
    const b = await net.hub(BOB, {}, lagging);
    const c = await net.hub(CAROL);
    const invited = await h.service.invite([BOB, CAROL], {
      sessionId: 's',
      message: '',
      expiresInMs: 60_000,
    });
    const [toB, toC] = invited.map((i) => i.id) as [string, string];
    await net.quiet();
    t.equal(b.service.get(toB).expiresAt, T0 - 3_600_000 + 60_000, 'on the invitee clock');

    net.clock.advance(60_000);
    await net.quiet();
    t.match(h.service.get(toC), { state: 'expired', reason: 'no answer in time' });
    t.same(types(c), ['invitation:received', 'invitation:expired'], 'the invitee expires by itself');
    t.same(h.service.tally('s').noResponse.sort(), [BOB, CAROL].sort());

    lagging.advance(59_000); // the invitee's copy is still pending: it answers
    t.match(await b.service.answer(toB, 'accepted'), { state: 'accepted' });
    await net.quiet();
    t.match(b.service.get(toB), {
      state: 'expired',
      reason: 'the host recorded expired',
      delivery: 'delivered',
    });
    t.same(types(b), ['invitation:received', 'invitation:answered', 'invitation:expired']);
    t.equal(h.service.get(toB).state, 'expired', 'the host keeps its word');
    t.same(types(h).filter((x) => x === 'invitation:expired').length, 2);
  },
);

t.test('answer and cancel cross: both end cancelled', async (t) => {
  const net = network(t);
  const [h, b] = await Promise.all([net.hub(HOST), net.hub(BOB)]);
  const [inv] = await h.service.invite([BOB], { sessionId: 's', message: 'x' });
  const id = inv!.id;
  await net.quiet();
  net.links.set(HOST, 'hang'); // the answer is on its way…
  await b.service.answer(id, 'accepted');
  await until(() => net.hung() === 1);
  await h.service.cancel(id); // …when the host cancels
  await until(() => types(b).length === 3, 'the cancel reached the invitee');
  t.match(b.service.get(id), { state: 'cancelled', reason: 'cancelled by the host' });
  net.links.set(HOST, 'ok');
  net.release(); // the answer attempt fails late: it is not retried, the cancel settled it
  await net.quiet();
  net.clock.advance(1000);
  await net.quiet();
  t.equal(net.sent.filter((s) => s === 'answer B>H').length, 1, 'not retried');
  t.match(h.service.get(id), { state: 'cancelled' });
  t.match(b.service.get(id), { state: 'cancelled', delivery: 'delivered' });
  t.same(types(b), ['invitation:received', 'invitation:answered', 'invitation:cancelled']);
  t.same(types(h), ['invitation:sent', 'invitation:cancelled']);

  // The other order: the answer reaches the host after its cancel, before the cancel reaches the invitee.
  const [inv2] = await h.service.invite([BOB], { sessionId: 's2', message: 'x' });
  const id2 = inv2!.id;
  await net.quiet();
  net.links.set(BOB, 'down');
  await h.service.cancel(id2);
  await net.quiet();
  t.equal(b.service.get(id2).state, 'pending', 'the cancel has not arrived');
  await b.service.answer(id2, 'declined');
  await net.quiet();
  t.match(b.service.get(id2), {
    state: 'cancelled',
    reason: 'the host recorded cancelled',
    delivery: 'delivered',
  });
  t.equal(h.service.get(id2).state, 'cancelled');
  net.links.set(BOB, 'ok');
  net.clock.advance(1000);
  await net.quiet();
  t.match(
    h.service.get(id2),
    { state: 'cancelled', delivery: 'delivered' },
    'the late cancel lands harmlessly',
  );
  t.equal(types(b).filter((x) => x === 'invitation:cancelled').length, 2, 'one cancelled event each');
});

t.test('duplicate delivery is acknowledged, not duplicated', async (t) => {
  const net = network(t);
  const b = await net.hub(BOB);
  const body = { id: 'b'.repeat(32), sessionId: 's', message: 'hi', expiresInMs: 60_000 };
  const pending = { ok: true, statusCode: 200, body: { state: 'pending' } };
  t.same(await b.service.onInvitation(HOST, body), pending);
  t.same(await b.service.onInvitation(HOST, { ...body, message: 'changed' }), pending);
  t.equal(b.service.list().length, 1);
  t.equal(b.service.get(body.id).message, 'hi');
  t.same(types(b), ['invitation:received']);
  net.links.set(HOST, 'down');
  await b.service.answer(body.id, 'declined');
  t.match(
    await b.service.onInvitation(HOST, body),
    { ok: true, body: { state: 'declined' } },
    'after answering',
  );
  t.match(await b.service.onInvitation(CAROL, body), {
    ok: false,
    statusCode: 409,
    body: { code: 'PH_ERR_INVITATION_INVALID' },
  });
  t.same(types(b), ['invitation:received', 'invitation:answered']);
});

t.test('two hubs inviting each other at the same moment: two invitations, two outcomes', async (t) => {
  const net = network(t);
  const [h, b] = await Promise.all([net.hub(HOST), net.hub(BOB)]);
  const [[fromH], [fromB]] = await Promise.all([
    h.service.invite([BOB], { sessionId: 'h-session', message: 'mine?' }),
    b.service.invite([HOST], { sessionId: 'b-session', message: 'or mine?' }),
  ]);
  await net.quiet();
  t.not(fromH!.id, fromB!.id);
  t.equal(h.service.list().length, 2);
  await h.service.answer(fromB!.id, 'accepted');
  await b.service.answer(fromH!.id, 'declined');
  await net.quiet();
  t.same(h.service.tally('h-session'), { accepted: [], declined: [BOB], noResponse: [], failed: [] });
  t.same(b.service.tally('b-session'), { accepted: [HOST], declined: [], noResponse: [], failed: [] });
  t.same(
    h.service.list({ direction: 'in' }).map((i) => i.state),
    ['accepted'],
  );
  t.same(
    b.service.list({ direction: 'in' }).map((i) => i.state),
    ['declined'],
  );
});

t.test('undeliverable: retries with back-off until the deadline, then failed with the reason', async (t) => {
  const net = network(t);
  const h = await net.hub(HOST);
  net.links.set(BOB, 'down');
  const [inv] = await h.service.invite([BOB], { sessionId: 's', message: '', expiresInMs: 20_000 });
  const id = inv!.id;
  await net.quiet();
  for (const wait of [1000, 2000, 4000, 8000]) {
    t.equal(h.service.get(id).state, 'pending');
    net.clock.advance(wait);
    await net.quiet();
  }
  t.same(
    net.sent,
    Array(5).fill('invitation H>B'),
    'attempts at 0, 1, 3, 7, 15 s; the next would be past expiry',
  );
  t.match(h.service.get(id), {
    state: 'failed',
    delivery: 'undeliverable',
    reason: 'PH_ERR_PEER_UNREACHABLE: connection refused',
  });
  t.same(types(h), ['invitation:failed']);
  t.same(h.service.tally('s').failed, [BOB]);
  t.equal(net.clock.pending, 0);

  net.links.set(CAROL, 'forbidden');
  const [toC] = await h.service.invite([CAROL], { sessionId: 's', message: '' });
  await net.quiet();
  t.match(
    h.service.get(toC!.id),
    { state: 'failed', reason: /^PH_ERR_INVITE_FORBIDDEN/ },
    'a refusal is final',
  );
  t.equal(net.sent.filter((s) => s.endsWith('>C')).length, 1);
});

t.test('a peer back before the deadline gets it on a retry, with the time left', async (t) => {
  const net = network(t);
  const [h, b] = await Promise.all([net.hub(HOST), net.hub(BOB)]);
  net.links.set(BOB, 'down');
  const [inv] = await h.service.invite([BOB], { sessionId: 's', message: '' });
  await net.quiet();
  net.links.set(BOB, 'ok');
  net.clock.advance(1000);
  await net.quiet();
  t.equal(h.service.get(inv!.id).delivery, 'delivered');
  t.equal(b.service.get(inv!.id).expiresAt, T0 + 5 * 60_000, 'expires with the host');
});

t.test(
  'delivered(): resolves when the delivery ends, at once when nothing is sending, or at the bound',
  async (t) => {
    const net = network(t);
    const [h, b] = await Promise.all([net.hub(HOST), net.hub(BOB)]);
    net.links.set(BOB, 'down');
    const [inv] = await h.service.invite([BOB], { sessionId: 's', message: 'x' });
    const id = inv!.id;
    await net.quiet(); // the first attempt failed: a retry in 1 s
    let done = false;
    const waiting = h.service.delivered([id], 60_000).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    t.notOk(done, 'still sending: still waiting');
    net.links.set(BOB, 'ok');
    net.clock.advance(1000);
    await waiting;
    t.equal(h.service.get(id).delivery, 'delivered', 'woken by the delivery, not by the bound');
    t.equal(b.service.get(id).state, 'pending');

    await h.service.delivered([id, 'f'.repeat(32)], 60_000); // delivered and unknown ids: at once

    net.links.set(BOB, 'down');
    await h.service.cancel(id);
    await net.quiet();
    const bounded = h.service.delivered([id], 5_000);
    net.clock.advance(5_000);
    await bounded;
    t.equal(
      h.service.get(id).delivery,
      'sending',
      'the bound ended the wait: the cancel is still on its way',
    );
  },
);
