/**
 * The Avahi presence backend (issue 6) on a real LAN: hub A runs with its own dbus-daemon +
 * avahi-daemon and `backend = "auto"` (it must choose Avahi), hub B is a plain multicast-dns hub.
 * Each sees and verifies the other, follows the other's presence changes; A never opens port 5353
 * itself; avahi-daemon going away does not take A down, and A is published again once it is back.
 */
import t from 'tap';
import { createLab, labSkipReason, type HubStatus } from './harness.js';

const A = 0;
const B = 1;
const WAIT = { timeout: 30_000 };

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 2 });
  const avahi = await lab.startAvahi(A);
  const [alice, bob] = await Promise.all([
    lab.startHub(A, { nickname: 'Alice', presence: { backend: 'auto' }, env: avahi.env }),
    lab.startHub(B, { nickname: 'Bob', presence: { backend: 'multicast-dns' } }),
  ]);
  const sa: HubStatus = await alice.status();
  const sb: HubStatus = await bob.status();

  await t.test('auto chooses Avahi when avahi-daemon is on the system bus', async (t) => {
    t.equal(sa.mdns.backend, 'avahi', 'A: backend avahi');
    t.equal(sb.mdns.backend, 'multicast-dns', 'B: backend multicast-dns');
    const s = await lab.waitFor(
      async () => {
        const st = await alice.status();
        return st.mdns.instance === 'Alice' ? st : null;
      },
      { ...WAIT, message: 'A published as Alice' },
    );
    t.equal(s.mdns.host, avahi.hostName, "A's host name is the daemon's");
  });

  await t.test('only avahi-daemon holds port 5353 in A', async (t) => {
    const r = await lab.exec(A, 'ss', ['-ulnpH'], { timeoutMs: 10_000 });
    t.equal(r.code, 0, 'ss runs');
    const lines = r.stdout.split('\n').filter((l) => /:5353\b/.test(l));
    t.ok(lines.length > 0, `someone holds 5353: ${r.stdout}`);
    t.ok(
      lines.every((l) => l.includes('avahi-daemon')),
      `every 5353 socket is avahi-daemon's: ${lines.join(' | ')}`,
    );
    t.notOk(
      lines.some((l) => l.includes(`pid=${alice.pid},`)),
      'the agent has no 5353 socket',
    );
  });

  await t.test('each hub sees the other, verified, with the right endpoints', async (t) => {
    const onB = await bob.waitPeer((p) => p.id === sa.id && p.verified === true, WAIT);
    t.equal(onB.instance, 'Alice');
    t.equal(onB.wellFormed, true);
    t.equal(onB.port, 7443);
    t.same(onB.endpoints, [`${lab.address(A)}:7443`], "A's endpoints on B");
    t.equal(onB.host?.replace(/\.$/, ''), `${avahi.hostName}.local`, "A's SRV target");
    const onA = await alice.waitPeer((p) => p.id === sb.id && p.verified === true, WAIT);
    t.equal(onA.instance, 'Bob');
    t.equal(onA.wellFormed, true);
    t.same(onA.endpoints, [`${lab.address(B)}:7443`], "B's endpoints on A");
    t.equal(onA.status, sb.presence.status);
  });

  await t.test('presence changes travel both ways', async (t) => {
    await alice.setPresence('Busy');
    const a = await bob.waitPeer((p) => p.id === sa.id && p.status === 'Busy', WAIT);
    t.ok(a.seq > sa.presence.seq, 'B sees the new seq of A');
    await bob.setPresence('Away');
    const b = await alice.waitPeer((p) => p.id === sb.id && p.status === 'Away', WAIT);
    t.ok(b.seq > sb.presence.seq, 'A sees the new seq of B');
    await alice.setPresence('OnThePhone');
    await bob.waitPeer((p) => p.id === sa.id && p.status === 'OnThePhone', WAIT);
    const counters = (await alice.status()).counters;
    t.ok((counters.txtUpdates ?? 0) >= 2, 'A updated its TXT in place (UpdateServiceTxt)');
  });

  await t.test('avahi-daemon going away: A keeps running; back: A published again', async (t) => {
    const exit = await avahi.stopDaemon();
    t.ok(exit.code !== null || exit.ms >= 0, 'avahi-daemon stopped');
    // B loses A (avahi says goodbye on exit); A marks the peers it saw through Avahi lost.
    await bob.waitNoPeer((p) => p.id === sa.id, WAIT);
    await alice.waitNoPeer((p) => p.id === sb.id, WAIT);
    t.ok(alice.running, 'agent A still running');
    const during = await alice.status();
    t.equal(during.mdns.backend, 'avahi', 'A answers status');
    t.ok((during.counters.daemonLost ?? 0) >= 1, 'A counted the daemon going');

    await avahi.startDaemon();
    const back = await bob.waitPeer((p) => p.id === sa.id && p.verified === true, WAIT);
    t.equal(back.status, 'OnThePhone', 'A re-published with its current presence');
    t.same(back.endpoints, [`${lab.address(A)}:7443`]);
    await alice.waitPeer((p) => p.id === sb.id && p.status === 'Away', WAIT);
    t.ok(alice.running, 'agent A still running');
  });
}
