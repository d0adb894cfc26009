import t from 'tap';
import { parseBrowseLine, type AvahiBrowseLine } from '../../../test/lab/avahi.js';
import { Stream } from '../../../test/lab/proc.js';
import { KeptBrowser, listed } from '../../../test/bench/kept-browser.js';

// Real child processes stand in for avahi-browse -rp: each prints its lines, then exits or stays.
const line = (name: string): string => `=;eth0;IPv4;${name};_phfleet._tcp;local;h.local;10.77.0.1;7443;"v=1"`;
function fake(scripts: string[]): { spawn: () => Stream<AvahiBrowseLine>; spawned: () => number } {
  let n = 0;
  const streams: Stream<AvahiBrowseLine>[] = [];
  t.teardown(async () => void (await Promise.all(streams.map((s) => s.stop('SIGKILL', 1_000)))));
  return {
    spawn: () => {
      const script = scripts[Math.min(n++, scripts.length - 1)] as string;
      const s = new Stream<AvahiBrowseLine>('sh', ['-c', script], {
        name: `browse${n}`,
        parse: parseBrowseLine,
      });
      streams.push(s);
      return s;
    },
    spawned: () => n,
  };
}
const messages: string[] = [];
const opts = { name: 'hub', retryMs: 50, log: (m: string) => void messages.push(m) };

t.test('an exited browser is started again; what it listed is removed first', async (t) => {
  const f = fake([
    `echo '${line('FA1')}'; echo 'Failed to create client object: Daemon not running' >&2; exit 1`,
    `echo '${line('FA2')}'; exec sleep 30`,
  ]);
  const b = new KeptBrowser(f.spawn, { ...opts, restarts: 3 });
  b.start();
  const got = await b.waitForRecord((l) => l.kind === '=' && l.name === 'FA2', { timeout: 20_000 });
  t.ok(got.t > 0);
  t.same(
    b.records.map((r) => `${r.value.kind}${r.value.name}`),
    ['=FA1', '-FA1', '=FA2'],
    'one timeline: FA1 listed, gone with its browser, FA2 from the new one',
  );
  t.same([...listed(b.records)], ['FA2']);
  t.equal(b.restarts, 1);
  t.equal(f.spawned(), 2);
  t.match(
    messages.join('\n'),
    /hub: avahi-browse exited \(Failed to create client object: Daemon not running\); started again \(1\)/,
  );
  t.match(b.describe(), /running after 1 restarts/);
  await b.stop();
});

t.test('a browser that keeps failing is given up: waiting ends with a clear error', async (t) => {
  const f = fake([`echo 'An unexpected D-Bus error occurred' >&2; exit 1`]);
  const b = new KeptBrowser(f.spawn, { ...opts, restarts: 2 });
  b.start();
  await t.rejects(
    b.waitForRecord(() => true, { timeout: 20_000 }),
    /hub: avahi-browse gave up after 2 restarts \(An unexpected D-Bus error occurred\)/,
  );
  t.equal(f.spawned(), 3, 'the first start and two restarts');
  t.match(b.describe(), /gave up/);
});

t.test('a stopped browser is not started again', async (t) => {
  const f = fake([`exec sleep 30`]);
  const b = new KeptBrowser(f.spawn, { ...opts, restarts: 3 });
  b.start();
  await b.stop();
  await new Promise((r) => setTimeout(r, 200));
  t.equal(f.spawned(), 1);
  t.equal(b.restarts, 0);
});
