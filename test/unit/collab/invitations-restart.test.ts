import t from 'tap';
import { readFileSync } from 'node:fs';
import { BOB, CAROL, HOST, network, T0, types } from './invitations-helpers.js';

const onDisk = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

t.test('invitee restarts with a pending invitation: still pending, expiry honoured', async (t) => {
  const net = network(t);
  const [h, b] = await Promise.all([net.hub(HOST), net.hub(BOB)]);
  const [inv] = await h.service.invite([BOB], { sessionId: 's', message: 'hi', expiresInMs: 120_000 });
  await net.quiet();
  const disk = onDisk(b.file);
  t.equal(disk.version, 1);
  t.match(disk.invitations, [{ id: inv!.id, direction: 'in', state: 'pending', peer: HOST }]);

  await b.restart();
  t.match(b.service.get(inv!.id), { state: 'pending', expiresAt: T0 + 120_000 });
  net.clock.advance(60_000);
  await b.service.stop(); // down for a while, and the invitation runs out meanwhile
  net.clock.advance(70_000);
  await b.restart();
  await net.quiet();
  t.match(b.service.get(inv!.id), { state: 'expired' }, 'expired on load');
  t.match(h.service.get(inv!.id), { state: 'expired' });
  t.match(onDisk(b.file).invitations, [{ state: 'expired' }]);
  t.same(types(b), ['invitation:received', 'invitation:expired']);
});

t.test('invitee restarts before its answer reached the host: sent again after reload', async (t) => {
  const net = network(t);
  const [h, b] = await Promise.all([net.hub(HOST), net.hub(BOB)]);
  const [inv] = await h.service.invite([BOB], { sessionId: 's', message: '' });
  await net.quiet();
  net.links.set(HOST, 'down');
  await b.service.answer(inv!.id, 'accepted');
  await net.quiet();
  t.match(onDisk(b.file).invitations, [{ state: 'accepted', delivery: 'sending' }]);
  net.links.set(HOST, 'ok');
  await b.restart();
  await net.quiet();
  t.match(b.service.get(inv!.id), { state: 'accepted', delivery: 'delivered' });
  t.match(h.service.get(inv!.id), { state: 'accepted' });
});

t.test(
  'host restarts: pending invitations reloaded; an answer sent meanwhile is accepted when it arrives',
  async (t) => {
    const net = network(t);
    const [h, b, c] = await Promise.all([net.hub(HOST), net.hub(BOB), net.hub(CAROL)]);
    const invited = await h.service.invite([BOB, CAROL], { sessionId: 's', message: '' });
    await net.quiet();
    await h.service.stop();
    net.off(HOST); // the host is down: B's answer cannot land
    await b.service.answer(invited[0]!.id, 'accepted');
    await net.quiet();
    t.match(b.service.get(invited[0]!.id), { state: 'accepted', delivery: 'sending' });

    await h.restart();
    net.on(h);
    t.same(h.service.list({ state: 'pending' }).length, 2, 'pending out-invitations reloaded');
    net.clock.advance(1000); // B's retry
    await net.quiet();
    t.match(h.service.get(invited[0]!.id), { state: 'accepted' });
    t.match(b.service.get(invited[0]!.id), { state: 'accepted', delivery: 'delivered' });
    await c.service.answer(invited[1]!.id, 'declined');
    await net.quiet();
    t.same(h.service.tally('s'), { accepted: [BOB], declined: [CAROL], noResponse: [], failed: [] });
  },
);

t.test(
  'host restarts mid-delivery: the invitation is sent again; after expiry it is expired on load',
  async (t) => {
    const net = network(t);
    const [h, b] = await Promise.all([net.hub(HOST), net.hub(BOB)]);
    net.links.set(BOB, 'hang');
    const [inv] = await h.service.invite([BOB], { sessionId: 's', message: '', expiresInMs: 10_000 });
    t.match(
      onDisk(h.file).invitations,
      [{ id: inv!.id, state: 'pending', delivery: 'sending' }],
      'written before sent',
    );
    net.links.set(BOB, 'ok');
    await h.restart();
    await net.quiet();
    net.release(); // the first service's attempt ends late: ignored
    await net.quiet();
    t.match(h.service.get(inv!.id), { state: 'pending', delivery: 'delivered' });
    t.equal(b.service.list().length, 1);
    t.same(types(h), ['invitation:sent']);

    await h.service.stop();
    net.clock.advance(10_000);
    await h.restart();
    t.match(h.service.get(inv!.id), { state: 'expired' });
  },
);

t.test('closed records are bounded: the oldest are pruned, pending ones kept', async (t) => {
  const net = network(t);
  const h = await net.hub(HOST, { maxClosed: 2 });
  await net.hub(BOB);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const [inv] = await h.service.invite([BOB], { sessionId: `s${i}`, message: '' });
    ids.push(inv!.id);
    net.clock.advance(10);
    await net.quiet();
    await h.service.cancel(inv!.id);
    await net.quiet();
  }
  const [open] = await h.service.invite([BOB], { sessionId: 'open', message: '' });
  await net.quiet();
  t.same(
    h.service.list().map((i) => i.id),
    [ids[2], ids[3], open!.id],
  );
  t.same(
    onDisk(h.file)
      .invitations.map((i: { id: string }) => i.id)
      .sort(),
    [ids[2], ids[3], open!.id].sort(),
  );
  await h.restart();
  t.equal(h.service.list().length, 3);
});

t.test('a corrupt record in the file is not silently replaced', async (t) => {
  const net = network(t);
  const h = await net.hub(HOST);
  await net.hub(BOB);
  await h.service.invite([BOB], { sessionId: 's', message: '' });
  await net.quiet(); // two writes: created, delivered
  await h.service.stop();
  const { writeFileSync } = await import('node:fs');
  const disk = onDisk(h.file);
  disk.invitations[0].state = 'bogus';
  writeFileSync(h.file, JSON.stringify(disk));
  await h.restart();
  t.equal(h.service.list().length, 1, 'the last good copy (.bak) is used');
  t.equal(h.service.list()[0]!.state, 'pending');
});
