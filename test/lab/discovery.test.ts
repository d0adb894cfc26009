/**
 * People Near Me on a real (namespaced) LAN: 3 agents find each other, see status changes, see a
 * graceful stop at once (goodbye) and a kill -9 within the record TTL. One lab for the whole file.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { createLab, labSkipReason, type HubStatus, type WatchEvent } from './harness.js';

const SHORT_TTL = 8; // seconds, for the kill -9 hub

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 3 });
  const [alice, bob, carol] = await Promise.all([
    lab.startHub(0, { nickname: 'Alice' }),
    lab.startHub(1, { nickname: 'Bob' }),
    lab.startHub(2, { nickname: 'Carol', presence: { ttl_host: SHORT_TTL, ttl_service: SHORT_TTL } }),
  ]);
  const hubs = [alice, bob, carol];
  const status: HubStatus[] = await Promise.all(hubs.map((h) => h.status()));
  const [sa, sb, sc] = status as [HubStatus, HubStatus, HubStatus];
  const aliceEvents = alice.watch();
  const isLost = (id: string) => (e: WatchEvent) => e.type === 'peer:lost' && peerIdOf(e) === id;

  await t.test('status names the hub', async (t) => {
    t.equal(sa.nickname, 'Alice');
    t.equal(sa.mdns.instance, 'Alice');
    t.equal(sa.mdns.backend, 'multicast-dns');
    t.not(sa.id, sb.id, 'distinct identities');
    t.match(sa.peerName, /\.lab$/, 'peer name = <id>.<classifier>');
  });

  await t.test('mutual discovery', async (t) => {
    for (const [i, h] of hubs.entries()) {
      for (const [j, other] of status.entries()) {
        if (i === j) continue;
        const row = await h.waitPeer((p) => p.id === other.id, { timeout: 20_000 });
        t.equal(row.instance, other.mdns.instance, `hub ${i} sees ${other.nickname} by instance`);
        t.equal(row.wellFormed, true, `hub ${i}: ${other.nickname} wellFormed`);
        t.same(row.endpoints, [`${lab.address(j)}:7443`], `hub ${i}: ${other.nickname}'s endpoint`);
        t.equal(row.status, other.presence.status);
      }
    }
  });

  await t.test('a status change is seen by the others', async (t) => {
    const since = performance.now();
    await bob.setPresence('Busy', 'in a meeting');
    const mine = await bob.status();
    t.equal(mine.presence.status, 'Busy');
    t.ok(mine.presence.seq > sb.presence.seq, 'seq bumped');
    for (const h of [alice, carol]) {
      const row = await h.waitPeer((p) => p.id === sb.id && p.status === 'Busy', { timeout: 15_000 });
      t.equal(row.seq, mine.presence.seq, `hub ${h.index} has Bob's new seq`);
    }
    const ev = await aliceEvents.waitForRecord((e) => e.type === 'peer:changed' && peerIdOf(e) === sb.id, {
      since,
      timeout: 5_000,
    });
    t.ok(ev, 'peer:changed on the event stream');
  });

  await t.test('a graceful stop is seen at once (goodbye), exit code 0', async (t) => {
    const since = performance.now();
    const exit = await bob.stop();
    t.equal(exit.code, 0, 'agent exits 0 on SIGTERM');
    t.ok(exit.ms < 3_000, `stopped in ${Math.round(exit.ms)} ms (contract: 2 s)`);
    // Bob's records live 120 s / 75 min: anything within 5 s is the goodbye, not expiry.
    await alice.waitNoPeer((p) => p.id === sb.id, { timeout: 5_000 });
    await carol.waitNoPeer((p) => p.id === sb.id, { timeout: 5_000 });
    const ev = await aliceEvents.waitForRecord(isLost(sb.id), { since, timeout: 5_000 });
    t.equal(ev.value.data.reason, 'goodbye');
    t.ok(ev.t - since < 5_000, `gone after ${Math.round(ev.t - since)} ms`);
  });

  await t.test(`kill -9 is seen within the record TTL (${SHORT_TTL} s)`, async (t) => {
    const since = performance.now();
    await carol.kill();
    const ev = await aliceEvents.waitForRecord(isLost(sc.id), { since, timeout: (SHORT_TTL + 20) * 1000 });
    const ms = ev.t - since;
    t.match(ev.value.data.reason, /^(expired|failure)$/, `reason ${ev.value.data.reason}`);
    t.ok(ms <= SHORT_TTL * 1000 + 3_000, `gone after ${Math.round(ms)} ms (TTL ${SHORT_TTL} s + 3 s slack)`);
    t.notOk(
      (await alice.peers()).some((p) => p.id === sc.id),
      'not listed any more',
    );
    const r = await carol.cli(['status', '--json']);
    t.equal(r.code, 1, 'the CLI against a dead agent exits 1');
    t.equal(r.stderr.trim().split('\n').length, 1, `with one line: ${r.stderr.trim()}`);
  });
}

function peerIdOf(e: WatchEvent): string | null | undefined {
  const d = e.data as { id?: string; peer?: { id?: string } };
  return d.peer?.id ?? d.id;
}
