/**
 * RFC 6762 §13 on a real (namespaced) LAN, multicast-dns backend: a hub whose address changes (a DHCP
 * lease for another address) announces the new one and the other hub connects to it; a pulled cable
 * pauses presence and, plugged back in, the hub probes and announces again; an agent started before
 * its interface has an address runs and starts presence when the address comes.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { createLab, labSkipReason } from './harness.js';

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 2 });
  const [alice, bob] = await Promise.all([
    lab.startHub(0, { nickname: 'Alice' }),
    lab.startHub(1, { nickname: 'Bob' }),
  ]);
  const [sa, sb] = await Promise.all([alice.status(), bob.status()]);
  const logged = (pattern: RegExp, since: number) =>
    (alice.agent as NonNullable<typeof alice.agent>).waitForRecord((l) => pattern.test(l), {
      since,
      timeout: 30_000,
    });

  await t.test('they see each other at the first address', async (t) => {
    const row = await bob.waitPeer((p) => p.id === sa.id && p.verified === true, { timeout: 30_000 });
    t.same(row.endpoints, [`${lab.address(0)}:7443`]);
    await alice.waitPeer((p) => p.id === sb.id, { timeout: 30_000 });
  });

  await t.test('another address: announced, the old one dropped, the peer API reached there', async (t) => {
    const moved = `10.77.${lab.subnet}.200`;
    const since = performance.now();
    // As a DHCP client moving to another lease does: the old address goes, the new one comes (deleting
    // a primary address takes the secondaries of its subnet with it, so not the other way round).
    await lab.exec(0, 'ip', ['addr', 'del', `${lab.address(0)}/16`, 'dev', 'eth0']);
    await lab.exec(0, 'ip', ['addr', 'add', `${moved}/16`, 'dev', 'eth0']);
    await logged(/link change: probing and announcing again/, since);
    const row = await bob.waitPeer(
      (p) => p.id === sa.id && p.endpoints.length === 1 && p.endpoints[0] === `${moved}:7443`,
      { timeout: 30_000 },
    );
    t.equal(row.instance, 'Alice', 'same instance, no rename');
    // Bob proves Alice at her new endpoint (a TLS handshake to it): the row is verified again.
    const proven = await bob.waitPeer((p) => p.id === sa.id && p.verified === true, { timeout: 30_000 });
    t.same(proven.endpoints, [`${moved}:7443`]);
    const check = await (bob.agent as NonNullable<typeof bob.agent>).waitForRecord(
      (l) => l.includes('nearby peer verified') && l.includes(`"endpoint":"${moved}:7443"`),
      { since, timeout: 30_000 },
    );
    t.ok(check, 'Bob logged the proof at the new endpoint');
    const seen = await alice.waitPeer((p) => p.id === sb.id, { timeout: 30_000 });
    t.same(seen.endpoints, [`${lab.address(1)}:7443`], 'Alice still sees Bob from her new address');
  });

  await t.test('cable out: paused; back in: probes and announces again, nobody lost', async (t) => {
    const before = (await alice.status()).counters;
    const out = performance.now();
    await lab.linkDown(0);
    await logged(/presence paused/, out);
    const back = performance.now();
    await lab.linkUp(0);
    await logged(/link change: probing and announcing again/, back);
    await lab.waitFor(
      async () => {
        const c = (await alice.status()).counters;
        return (
          (c.probesSent ?? 0) >= (before.probesSent ?? 0) + 3 &&
          (c.announcementsSent ?? 0) >= (before.announcementsSent ?? 0) + 1
        );
      },
      { timeout: 30_000, message: 'Alice probed (3) and announced again' },
    );
    await bob.waitPeer((p) => p.id === sa.id, { timeout: 30_000 });
    await alice.waitPeer((p) => p.id === sb.id, { timeout: 30_000 });
    t.pass('both list each other after the cable is back');
  });

  await t.test('started without an address: the agent runs; presence starts with the address', async (t) => {
    const now = (await alice.status()).counters;
    t.ok(now, 'Alice answers before the restart');
    t.equal((await alice.stop()).code, 0);
    const moved = `10.77.${lab.subnet}.200`;
    await lab.exec(0, 'ip', ['addr', 'flush', 'dev', 'eth0']);
    const again = await lab.startHub(0, { nickname: 'Alice' });
    const since = again.startedAt;
    const waiting = await (again.agent as NonNullable<typeof again.agent>).waitForRecord(
      (l) => /no IPv4 address yet/.test(l),
      { since, timeout: 30_000 },
    );
    t.ok(waiting, 'logged that it waits for an address');
    t.equal((await again.status()).id, sa.id, 'the agent is up and answers status');
    await lab.exec(0, 'ip', ['addr', 'add', `${moved}/16`, 'dev', 'eth0']);
    const row = await bob.waitPeer((p) => p.id === sa.id && p.endpoints.includes(`${moved}:7443`), {
      timeout: 30_000,
    });
    t.equal(row.instance, 'Alice', 'Bob sees Alice once she has an address');
    await again.waitPeer((p) => p.id === sb.id, { timeout: 30_000 });
  });
}
