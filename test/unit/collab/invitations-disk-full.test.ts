/**
 * A write of invitations.json that fails (disk full) after the invitation was created and sent: the
 * record stays in memory, and is saved by the retry once space is back, or with the next write that
 * succeeds — not lost at the next restart (found by the faults torture, issue 7). A received
 * invitation that cannot be saved is refused (the sender retries), never acknowledged.
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
  const disk = { full: false };
  const fs: StoreFs = {
    ...nodeFs,
    open: (path, flags, mode) =>
      disk.full && flags === 'w'
        ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }))
        : nodeFs.open(path, flags, mode),
  };
  const sent: string[] = [];
  const make = (): Invitations =>
    createInvitations({
      clock,
      logger: silentLogger(),
      bus: { emit: () => undefined },
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
  return { clock, disk, make, sent, stored };
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
  const s = setup(t);
  const svc = s.make();
  await svc.start();
  t.teardown(() => svc.stop());
  s.disk.full = true;
  const [a] = await svc.invite([BOB], { sessionId: 's1', message: 'a' });
  await svc.idle();
  s.disk.full = false;
  const [b] = await svc.invite([BOB], { sessionId: 's2', message: 'b' });
  await svc.idle();
  t.same(s.stored().sort(), [a!.id, b!.id].sort(), 'both on disk');
});

t.test('received while the disk is full: refused, nothing kept', async (t) => {
  const s = setup(t);
  const svc = s.make();
  await svc.start();
  t.teardown(() => svc.stop());
  s.disk.full = true;
  const body = { id: 'c'.repeat(32), sessionId: 's9', message: 'hi', expiresInMs: 60_000 };
  const r = await svc.onInvitation(HOST, body);
  t.match(r, { ok: false, body: { code: 'PH_ERR_STORE_WRITE' } }, 'refused: the sender tries again');
  t.same(svc.list(), [], 'nothing half-kept');
  s.disk.full = false;
  t.match(await svc.onInvitation(HOST, body), { ok: true }, 'accepted once space is back');
});
