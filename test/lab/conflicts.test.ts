/**
 * RFC 6762 §9 conflicts on a real LAN: two hubs with one nickname → one instance renamed `Name (2)`,
 * both listed; two hubs forced to one mDNS host name → one host renamed, both still reachable.
 * The second hub of each pair starts once the first is announced, so the newcomer is the one to yield.
 */
import t from 'tap';
import { createLab, hostLabel, labSkipReason, type HubStatus } from './harness.js';

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 5 });
  const [twinA, hostA] = await Promise.all([
    lab.startHub(0, { nickname: 'Twin' }),
    lab.startHub(2, { nickname: 'Host A', hostname: 'samehost' }),
  ]);
  const [twinB, hostB, observer] = await Promise.all([
    lab.startHub(1, { nickname: 'Twin' }),
    lab.startHub(3, { nickname: 'Host B', hostname: 'samehost' }),
    lab.startHub(4, { nickname: 'Observer' }),
  ]);

  await t.test('same nickname: one renamed "Twin (2)", both listed', async (t) => {
    // Probing ends with the rename; status may show the preferred name until then.
    const [a, b] = await lab.waitFor(
      async () => {
        const s = await Promise.all([twinA.status(), twinB.status()]);
        const names = s.map((x) => x.mdns.instance).sort();
        return names[0] === 'Twin' && names[1] === 'Twin (2)' ? s : null;
      },
      { timeout: 20_000, message: 'instances Twin and Twin (2)' },
    );
    t.equal((a as HubStatus).nickname, 'Twin', 'the nickname itself is kept');
    t.equal((b as HubStatus).nickname, 'Twin');
    for (const [i, s] of [a, b].entries()) {
      const st = s as HubStatus;
      const row = await observer.waitPeer((p) => p.id === st.id, { timeout: 15_000 });
      t.equal(row.instance, st.mdns.instance, `observer lists ${st.mdns.instance}`);
      t.same(row.endpoints, [`${lab.address(i)}:7443`], `${st.mdns.instance} resolves to its own hub`);
    }
  });

  await t.test('same host name: one renamed, both reachable', async (t) => {
    const [a, b] = await lab.waitFor(
      async () => {
        const s = await Promise.all([hostA.status(), hostB.status()]);
        const [ha, hb] = s.map((x) => hostLabel(x.mdns.host));
        return ha !== hb ? s : null;
      },
      { timeout: 20_000, message: 'host names differ' },
    );
    const labels = [hostLabel((a as HubStatus).mdns.host), hostLabel((b as HubStatus).mdns.host)];
    t.ok(labels.includes('samehost'), `one keeps samehost (${labels.join(', ')})`);
    const renamed = labels.find((l) => l !== 'samehost') ?? '';
    t.match(renamed, /^samehost.+/, `the other is renamed from it (${renamed})`);
    for (const [k, s] of [a, b].entries()) {
      const st = s as HubStatus;
      const row = await observer.waitPeer(
        (p) => p.id === st.id && hostLabel(p.host) === hostLabel(st.mdns.host),
        {
          timeout: 15_000,
        },
      );
      t.same(
        row.endpoints,
        [`${lab.address(2 + k)}:7443`],
        `${st.nickname} → its own address via ${row.host}`,
      );
    }
  });
}
