/**
 * A flood of malformed mDNS packets (bounded: 20,000) on the LAN does not stop a hub from answering:
 * afterwards another hub still sees its status change, and its counters show the malformed packets.
 */
import t from 'tap';
import { join } from 'node:path';
import { createLab, labSkipReason, repoRoot, type HubStatus } from './harness.js';

const PACKETS = 20_000;

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 3 });
  const [target, witness] = await Promise.all([
    lab.startHub(0, { nickname: 'Target' }),
    lab.startHub(1, { nickname: 'Witness' }),
  ]);
  const st = await target.status();
  await witness.waitPeer((p) => p.id === st.id, { timeout: 20_000 });

  await t.test(`${PACKETS} malformed packets from node 2`, async (t) => {
    const r = await lab.exec(
      2,
      '/usr/bin/python3',
      [
        join(repoRoot(), 'test/lab/mdns_flood.py'),
        '--interface',
        lab.address(2),
        '--count',
        String(PACKETS),
        '--seconds',
        '30',
      ],
      { timeoutMs: 60_000 },
    );
    t.equal(r.code, 0, r.stderr);
    t.equal(r.json<{ sent: number }>().sent, PACKETS);
  });

  await t.test('the hub still answers and announces', async (t) => {
    t.ok(target.running, 'agent still running');
    t.ok(witness.running, 'witness still running');
    await target.setPresence('Away', 'after the flood');
    const row = await witness.waitPeer((p) => p.id === st.id && p.status === 'Away', { timeout: 15_000 });
    t.equal(row.wellFormed, true);
  });

  await t.test('the malformed packets are counted', async (t) => {
    const after: HubStatus = await target.status();
    const malformed = Object.entries(after.counters).filter(([k]) => /malformed/i.test(k));
    t.ok(malformed.length > 0, `a malformed counter exists (${Object.keys(after.counters).join(', ')})`);
    const total = malformed.reduce((n, [, v]) => n + v, 0);
    t.comment(`counters after the flood: ${JSON.stringify(after.counters)}`);
    t.ok(total > 0, `malformed packets counted: ${total}`);
  });
}
