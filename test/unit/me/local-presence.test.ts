import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../firmware/core/logger.js';
import { LocalPresence } from '../../../firmware/me/local-presence.js';
import type { Announcement } from '../../../firmware/presence/types.js';

function setup(dir: string) {
  const announced: Announcement[] = [];
  let withdrawn = 0;
  const events: string[] = [];
  const deps = {
    logger: silentLogger(),
    bus: { emit: (type: string) => events.push(type) },
    presence: {
      announce: (a: Announcement) => void announced.push(a),
      withdraw: async () => void withdrawn++,
    },
  };
  const init = { file: join(dir, 'state.json'), nickname: 'Den', peerId: 'AAAAAAA-BBBBBBB', port: 7443 };
  return { deps, init, announced, events, withdrawn: () => withdrawn };
}

t.test('a status change is announced, kept, and survives a reopen', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-me-'));
  const s = setup(dir);
  const me = await LocalPresence.open(s.deps, s.init);
  me.start();
  t.match(s.announced.at(-1), { status: 'Online', seq: 1 });
  await me.set('Busy', 'call');
  t.match(s.announced.at(-1), { status: 'Busy', seq: 2 });
  t.same(s.events, ['presence:changed']);
  await me.stop();
  const again = await LocalPresence.open(s.deps, s.init);
  t.match(again.state, { status: 'Busy', text: 'call', seq: 2 });
});

t.test('a change that cannot be written is taken back, on the subnet too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-me-'));
  const s = setup(dir);
  const me = await LocalPresence.open(s.deps, s.init);
  me.start();
  rmSync(dir, { recursive: true, force: true }); // the next durable write fails
  await t.rejects(me.set('Away'), { code: 'PH_ERR_STORE_WRITE' });
  t.match(me.state, { status: 'Online', seq: 1 }, 'state unchanged');
  t.same(
    s.announced.map((a) => a.status),
    ['Online', 'Away', 'Online'],
    'announced at once, then the previous state again',
  );
  t.same(s.events, [], 'no presence:changed for a change that did not happen');
});
