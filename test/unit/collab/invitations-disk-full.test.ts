/**
 * A write of invitations.json that fails (disk full) after the invitation was created and sent: the
 * record stays in memory, and is saved by the retry once space is back, or with the next write that
 * succeeds — not lost at the next restart (found by the faults torture, issue 7). A received
 * invitation that cannot be saved is refused (the sender retries), never acknowledged; the owner, told
 * of it before the write ended, is told it is withdrawn.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInvitations, SAVE_RETRY_MS } from '../../../firmware/collab/invitations.js';
import { createInvitePolicy } from '../../../firmware/collab/policy.js';
import type { Invitations } from '../../../firmware/collab/types.js';
import { ManualClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { nodeFs, type StoreFs } from '../../../firmware/store/index.js';
import { BOB, HOST, T0 } from './invitations-helpers.js';

function setup(t: Test) {
  const clock = new ManualClock(T0);
  const file = join(t.testdir(), 'invitations.json');
  const disk: { full: boolean; gate: Promise<void> | null } = { full: false, gate: null };
  const writes = { n: 0 };
  const fs: StoreFs = {
    ...nodeFs,
    open: async (path, flags, mode) => {
      if (flags === 'w' && path.endsWith('.json.tmp')) writes.n++;
      if (flags === 'w') await disk.gate; // a slow disk: writes wait until the test opens the gate
      if (disk.full && flags === 'w')
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      return nodeFs.open(path, flags, mode);
    },
  };
  const events: string[] = [];
  const sent: string[] = [];
  const make = (): Invitations =>
    createInvitations({
      clock,
      logger: silentLogger(),
      bus: { emit: (type, data) => void events.push(`${type} ${data.invitation.state}`) },
      store: file,
      fs,
      transport: {
        sendInvitation: async (_peer, body) => void sent.push(body.id),
        sendAnswer: async () => ({ state: 'accepted' }),
        sendCancel: async () => undefined,
      },
      policy: createInvitePolicy({ clock, isContact: () => true, isNearby: () => false }),
    });
  const stored = (): string[] =>
    (JSON.parse(readFileSync(file, 'utf8')) as { invitations: Array<{ id: string }> }).invitations.map(
      (i) => i.id,
    );
  /** Writes wait from now on until the returned function is called. */
  const slowDisk = (): (() => void) => {
    let open!: () => void;
    disk.gate = new Promise((r) => (open = r));
    return open;
  };
  return { clock, disk, events, make, sent, stored, writes, slowDisk };
}

/** setup() with a started service, stopped at the end of the test. */
async function running(t: Test) {
  const s = setup(t);
  const svc = s.make();
  await svc.start();
  t.teardown(() => svc.stop());
  return { s, svc };
}

t.test('created while the disk is full: saved by the retry once space is back', async (t) => {
  const s = setup(t);
  let svc = s.make();
  await svc.start();
  t.teardown(() => svc.stop());
  await svc.invite([BOB], { sessionId: 's0', message: 'before' }); // the file exists
  s.disk.full = true;
  const [inv] = await svc.invite([BOB], { sessionId: 's1', message: 'while full' });
  await svc.idle();
  t.equal(inv?.state, 'pending', 'the owner has it');
  t.same(s.sent.length, 2, 'and it went out');
  t.notOk(s.stored().includes(inv!.id), 'not on disk yet');
  s.clock.advance(SAVE_RETRY_MS);
  await svc.idle();
  t.notOk(s.stored().includes(inv!.id), 'still full: retried, not saved');
  s.disk.full = false;
  s.clock.advance(SAVE_RETRY_MS);
  await svc.idle();
  t.ok(s.stored().includes(inv!.id), 'saved once space is back');
  await svc.stop();
  svc = s.make();
  await svc.start();
  t.equal(svc.get(inv!.id).state, 'pending', 'and there after a restart');
});

t.test('saved with the next write that succeeds, before the retry', async (t) => {
  const { s, svc } = await running(t);
  s.disk.full = true;
  const [a] = await svc.invite([BOB], { sessionId: 's1', message: 'a' });
  await svc.idle();
  s.disk.full = false;
  const [b] = await svc.invite([BOB], { sessionId: 's2', message: 'b' });
  await svc.idle();
  t.same(s.stored().sort(), [a!.id, b!.id].sort(), 'both on disk');
});

t.test('received while the disk is full: refused, nothing kept', async (t) => {
  const { s, svc } = await running(t);
  s.disk.full = true;
  const body = { id: 'c'.repeat(32), sessionId: 's9', message: 'hi', expiresInMs: 60_000 };
  const r = await svc.onInvitation(HOST, body);
  t.match(r, { ok: false, body: { code: 'PH_ERR_STORE_WRITE' } }, 'refused: the sender tries again');
  t.same(svc.list(), [], 'nothing half-kept');
  t.same(s.events, ['invitation:received pending', 'invitation:failed failed'], 'the owner is told');
  s.disk.full = false;
  t.match(await svc.onInvitation(HOST, body), { ok: true }, 'accepted once space is back');
});

t.test('received: the owner is told at once, the host only once it is on disk', async (t) => {
  const { s, svc } = await running(t);
  const open = s.slowDisk();
  const body = { id: 'd'.repeat(32), sessionId: 's9', message: 'hi', expiresInMs: 60_000 };
  let answered = false;
  const reply = svc.onInvitation(HOST, body).then((r) => ((answered = true), r));
  await new Promise((r) => setTimeout(r, 20));
  t.same(s.events, ['invitation:received pending'], 'shown while the write is pending');
  t.notOk(answered, 'the host is not answered before the write');
  open();
  t.match(await reply, { ok: true });
  t.same(s.stored(), [body.id], 'on disk when the host is answered');
});

t.test('received, answered by the owner while the write fails: the answer is kept', async (t) => {
  const { s, svc } = await running(t);
  const open = s.slowDisk();
  s.disk.full = true;
  const body = { id: 'e'.repeat(32), sessionId: 's9', message: 'hi', expiresInMs: 60_000 };
  const reply = svc.onInvitation(HOST, body);
  await new Promise((r) => setTimeout(r, 20));
  const answering = svc.answer(body.id, 'declined');
  open();
  t.match(await reply, { ok: false, body: { code: 'PH_ERR_STORE_WRITE' } }, 'the host tries again');
  t.match(await answering, { state: 'declined' });
  await svc.idle();
  // This transport's host always replies "accepted": its verdict is adopted. What matters: the record
  // left pending (the owner's answer went out) and is kept, not withdrawn.
  t.match(svc.get(body.id), { state: 'accepted', answeredAt: Number }, 'kept in memory');
  t.notOk(s.events.includes('invitation:failed failed'), 'not withdrawn');
  s.disk.full = false;
  s.clock.advance(SAVE_RETRY_MS);
  await svc.idle();
  t.same(s.stored(), [body.id], 'saved by the retry');
});

t.test('stop() waits for a write deferred to the end of the loop turn', async (t) => {
  const clock = new ManualClock(T0);
  const file = join(t.testdir(), 'invitations.json');
  let deliver!: () => void;
  const svc = createInvitations({
    clock,
    logger: silentLogger(),
    bus: { emit: () => undefined },
    store: file,
    transport: {
      sendInvitation: () => new Promise<void>((r) => (deliver = r)),
      sendAnswer: async () => ({ state: 'accepted' }),
      sendCancel: async () => undefined,
    },
    policy: createInvitePolicy({ clock, isContact: () => true, isNearby: () => false }),
  });
  await svc.start();
  const [inv] = await svc.invite([BOB], { sessionId: 's', message: 'x' });
  deliver();
  await svc.delivered([inv!.id], 1000); // resolves on the change in memory, before its write ran
  await svc.stop();
  const onDisk = JSON.parse(readFileSync(file, 'utf8')) as { invitations: Array<{ delivery: string }> };
  t.match(
    onDisk.invitations,
    [{ delivery: 'delivered' }],
    'the delivery was written before the store closed',
  );
});

t.test(
  'an invitation to many peers is one write (group commit), all on disk when the call returns',
  async (t) => {
    const { s, svc } = await running(t);
    const peers = 'EFGIJKLMNOPQRSTUVWXYZ'
      .split('')
      .map((c) => c.repeat(51) + 'A')
      .slice(0, 20);
    const before = s.writes.n;
    const made = await svc.invite(peers, { sessionId: 'many', message: 'all of you' });
    t.equal(made.length, 20);
    t.same(s.stored().sort(), made.map((i) => i.id).sort(), 'every invitation on disk');
    t.ok(s.writes.n - before <= 2, `written in ${s.writes.n - before} write(s), not 20`);
    await svc.idle();
  },
);
