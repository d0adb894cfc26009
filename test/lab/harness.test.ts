/**
 * Self-test of the lab harness (no agent needed): namespaces reach each other over the bridge, avahi
 * (own dbus, private /run) publishes and browses across namespaces, python3-zeroconf resolves, and
 * everything is gone afterwards.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { createLab, labAvailable, LAB_SKIP, sweepStaleLabs, type Lab } from './harness.js';
import { runSync } from './proc.js';

/** Mount lines naming `id` in any process's mount namespace. */
function mountsMentioning(id: string): string[] {
  const hits: string[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      hits.push(
        ...readFileSync(`/proc/${p}/mountinfo`, 'utf8')
          .split('\n')
          .filter((l) => l.includes(id)),
      );
    } catch {
      // process gone
    }
  }
  return hits;
}

if (!(await labAvailable())) {
  t.plan(0, LAB_SKIP);
} else {
  let lab: Lab | undefined;
  let pids: number[] = [];
  let namespaces: string[] = [];

  await t.test('lab', async (t) => {
    lab = await createLab(t, { hubs: 3 });
    const l = lab;

    await t.test('nodes ping each other over the bridge', async (t) => {
      for (const [a, b] of [
        [0, 1],
        [1, 2],
        [2, 0],
      ] as const) {
        t.ok(await l.ping(a, b), `node ${a} → node ${b} (${l.address(b)})`);
      }
    });

    await t.test('link down on the switch side cuts a node off, up restores it', async (t) => {
      await l.linkDown(2);
      t.notOk(await l.ping(0, 2, 1), 'node 2 unreachable with its link down');
      await l.linkUp(2);
      t.ok(await l.waitFor(() => l.ping(0, 2), { timeout: 10_000 }), 'node 2 back');
    });

    await t.test('avahi-publish in ns 1 is seen by avahi-browse in ns 0 and zeroconf in ns 2', async (t) => {
      const [a0, a1] = await Promise.all([l.startAvahi(0), l.startAvahi(1)]);
      t.not(a0.busAddress, a1.busAddress, 'each avahi has its own bus');
      await a1.publish('Avahi Thing', '_peerhub._tcp', 7000, ['foo=bar', 'id=lab test']);

      const seen = await l.waitFor(
        async () => (await a0.browse('_peerhub._tcp', 10_000)).find((r) => r.name === 'Avahi Thing'),
        { timeout: 20_000, message: 'avahi-browse sees Avahi Thing' },
      );
      t.equal(seen.port, 7000);
      t.equal(seen.address, l.address(1));
      t.equal(seen.host, `${a1.hostName}.local`);
      t.same(seen.txt, { foo: 'bar', id: 'lab test' });

      const zc = await l.waitFor(
        async () =>
          (await l.zeroconf(2, ['--wait', '5', '--min', '1'])).find((s) => s.instance === 'Avahi Thing'),
        { timeout: 30_000, message: 'zeroconf resolves Avahi Thing' },
      );
      t.equal(zc.port, 7000);
      t.same(zc.addresses, [l.address(1)]);
      t.same(zc.txt, { foo: 'bar', id: 'lab test' });
      t.equal(zc.server, `${a1.hostName}.local.`);
    });

    t.ok(mountsMentioning(l.id).length > 0, 'private /run mounts exist while avahi runs');
    pids = l.livePids();
    namespaces = l.namespaces();
    t.equal(namespaces.length, 4, 'switch + 3 nodes');
    t.ok(pids.length >= 5, 'dbus ×2, avahi ×2, avahi-publish running');
  });

  /** A pid that is certainly not running (a child that has exited). */
  function deadPid(): number {
    const r = runSync('sh', ['-c', 'echo $$']);
    return Number(r.stdout.trim());
  }

  // After the subtest's teardown ran.
  t.test('everything is cleaned up', async (t) => {
    t.ok(lab, 'lab was made');
    const id = lab?.id ?? 'none';
    const left = runSync('ip', ['netns', 'list'])
      .stdout.split('\n')
      .filter((l) => l.includes(id));
    t.same(left, [], 'no namespaces with the lab prefix');
    const alive = pids.filter((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    });
    t.same(alive, [], 'no leftover processes');
    t.same(mountsMentioning(id), [], 'no leftover mounts in any mount namespace');
  });

  t.test('the sweeper removes stale labs of dead owners only', async (t) => {
    const dead = deadPid();
    const stale = `phlab-${dead}-beef-n0`;
    const mine = `phlab-${process.pid}-beef-n0`;
    runSync('ip', ['netns', 'add', stale]);
    runSync('ip', ['netns', 'add', mine]);
    t.teardown(() => {
      runSync('ip', ['netns', 'del', stale]);
      runSync('ip', ['netns', 'del', mine]);
    });
    const swept = sweepStaleLabs();
    t.ok(swept.includes(stale), 'dead owner: swept');
    t.notOk(swept.includes(mine), 'live owner: kept');
    const names = runSync('ip', ['netns', 'list']).stdout;
    t.notOk(names.includes(stale));
    t.ok(names.includes(mine));
  });
}
