/**
 * Interop with other mDNS stacks on the same LAN: avahi-daemon (avahi-browse / avahi-publish, own
 * dbus) and python3-zeroconf see our hubs with their TXT, follow a status change and a goodbye; our
 * hubs list a service published by avahi as unverified.
 */
import t from 'tap';
import { createLab, labSkipReason, type HubStatus } from './harness.js';

const AVAHI = 2; // node running avahi-daemon
const ZC = 3; // node running python3-zeroconf

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 4 });
  const [hubs, avahi] = await Promise.all([
    Promise.all([lab.startHub(0, { nickname: 'Alice' }), lab.startHub(1, { nickname: 'Bob' })]),
    lab.startAvahi(AVAHI),
  ]);
  const [alice, bob] = hubs;
  const status: HubStatus[] = await Promise.all(hubs.map((h) => h.status()));
  const [sa, sb] = status as [HubStatus, HubStatus];

  await t.test('avahi-browse -rtp lists our hubs with their TXT', async (t) => {
    for (const [i, s] of status.entries()) {
      const rec = await lab.waitFor(
        async () => (await avahi.browse('_peerhub._tcp', 10_000)).find((r) => r.name === s.mdns.instance),
        { timeout: 20_000, message: `avahi sees ${s.mdns.instance}` },
      );
      t.equal(rec.port, 7443, `${s.nickname}: port`);
      t.equal(rec.address, lab.address(i), `${s.nickname}: address`);
      t.equal(rec.host, `${s.mdns.host.replace(/\.local\.?$/, '')}.local`, `${s.nickname}: SRV target`);
      t.equal(rec.txt?.id, s.id, `${s.nickname}: TXT id=`);
      t.equal(rec.txt?.st, s.presence.status, `${s.nickname}: TXT st=`);
      t.equal(rec.txt?.v, '1', `${s.nickname}: TXT v=1`);
    }
  });

  await t.test('python3-zeroconf resolves them', async (t) => {
    const found = await lab.waitFor(
      async () => {
        const list = await lab.zeroconf(ZC, ['--wait', '8', '--min', '2']);
        return status.every((s) => list.some((z) => z.instance === s.mdns.instance)) ? list : null;
      },
      { timeout: 40_000, message: 'zeroconf resolves Alice and Bob' },
    );
    for (const [i, s] of status.entries()) {
      const z = found.find((x) => x.instance === s.mdns.instance);
      t.equal(z?.port, 7443, `${s.nickname}: port`);
      t.same(z?.addresses, [lab.address(i)], `${s.nickname}: address`);
      t.equal(z?.txt.id, s.id, `${s.nickname}: TXT id=`);
      t.equal(z?.txt.st, s.presence.status, `${s.nickname}: TXT st=`);
    }
  });

  await t.test('avahi follows a status change (TXT update with cache-flush)', async (t) => {
    await alice.setPresence('Busy');
    const rec = await lab.waitFor(
      async () =>
        (await avahi.browse('_peerhub._tcp', 10_000)).find(
          (r) => r.name === sa.mdns.instance && r.txt?.st === 'Busy',
        ),
      { timeout: 20_000, message: 'avahi sees st=Busy' },
    );
    t.equal(rec.txt?.id, sa.id);
  });

  await t.test('our hubs list an avahi-published service as unverified', async (t) => {
    await avahi.publish('Avahi Thing', '_peerhub._tcp', 7000, ['foo=bar']);
    const row = await alice.waitPeer((p) => p.instance === 'Avahi Thing', { timeout: 20_000 });
    t.equal(row.wellFormed, false, 'not a peerhub record');
    t.equal(row.port, 7000);
    t.same(row.endpoints, [`${lab.address(AVAHI)}:7000`]);
    t.not(row.id, sa.id);
    t.ok(row.id === null || row.id === undefined || row.id === '', 'no peer id claimed');
  });

  await t.test('avahi drops a hub on its goodbye', async (t) => {
    const stream = avahi.browseStream('_peerhub._tcp');
    await stream.waitForRecord((r) => r.kind === '=' && r.name === sb.mdns.instance, { timeout: 20_000 });
    const exit = await bob.stop();
    t.equal(exit.code, 0);
    const gone = await stream.waitForRecord((r) => r.kind === '-' && r.name === sb.mdns.instance, {
      timeout: 5_000,
    });
    t.ok(gone, 'avahi-browse reports the removal within 5 s');
  });
}
