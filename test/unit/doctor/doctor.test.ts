import t from 'tap';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate, worst, type DoctorFacts } from '../../../firmware/doctor/checks.js';
import { multicastRoute, port5353Owners, quarantinedFiles } from '../../../firmware/doctor/facts.js';

const NOW = Date.UTC(2026, 10, 25);
const DAY = 86_400_000;
const good: DoctorFacts = {
  version: '0.1.0',
  uptimeMs: 60_000,
  controlSocket: '/run/peerhub/control.sock',
  mdnsBackend: 'multicast-dns',
  port5353: ['node'],
  multicastRoute: true,
  interface: 'eth0',
  addresses: ['192.168.1.20'],
  peersSeen: 3,
  peersVerified: 2,
  clockSynchronised: true,
  now: NOW,
  identity: { peerId: 'AAAAAAA-BBBBBBB', notAfter: Date.UTC(2100, 0, 1) },
  tls: { notAfter: NOW + 25 * DAY, provisional: false },
  quarantined: [],
  disk: { freeBytes: 5e9, path: '/var/lib/peerhub' },
  panel: { board: 'linux', onPi: true },
};
const by = (f: DoctorFacts) => Object.fromEntries(evaluate(f).map((c) => [c.name, c]));

t.test('a healthy hub passes every check', async (t) => {
  const c = evaluate(good);
  t.same(
    c.map((x) => x.name),
    [
      'agent',
      'control-socket',
      'address',
      'mdns',
      'multicast-route',
      'peers',
      'clock',
      'identity',
      'tls',
      'store',
      'disk',
      'panel',
    ],
  );
  t.ok(
    c.every((x) => x.status === 'pass'),
    JSON.stringify(c.filter((x) => x.status !== 'pass')),
  );
  t.equal(worst(c), 'pass');
});

t.test('each problem is named, with a hint', async (t) => {
  const cases: Array<[Partial<DoctorFacts>, string, 'warn' | 'fail']> = [
    [{ port5353: ['node', 'avahi-daemon'] }, 'mdns', 'warn'],
    [{ mdnsBackend: 'avahi', port5353: [] }, 'mdns', 'warn'],
    [{ mdnsBackend: 'avahi', port5353: ['avahi-daemon', 'node'] }, 'mdns', 'warn'],
    [{ multicastRoute: false }, 'multicast-route', 'fail'],
    [{ addresses: [] }, 'address', 'fail'],
    [{ peersSeen: 0, peersVerified: 0 }, 'peers', 'warn'],
    [{ clockSynchronised: false, now: 0 }, 'clock', 'warn'],
    [{ tls: { notAfter: NOW - 1, provisional: false } }, 'tls', 'fail'],
    [{ tls: { notAfter: NOW + 3 * DAY, provisional: false } }, 'tls', 'warn'],
    [{ tls: { notAfter: NOW + 60 * DAY, provisional: true } }, 'tls', 'warn'],
    [{ quarantined: ['contacts.json.corrupt-1'] }, 'store', 'warn'],
    [{ disk: { freeBytes: 5 * 1024 * 1024, path: '/' } }, 'disk', 'fail'],
    [{ disk: { freeBytes: 50 * 1024 * 1024, path: '/' } }, 'disk', 'warn'],
    [{ panel: { board: 'virtual', onPi: true, overlayHint: 'add dtoverlay=peerhub-pi5' } }, 'panel', 'warn'],
    [
      { firstBoot: { ok: false, errors: ['timezone: Mars/Olympus is not a time zone'], at: null } },
      'first-boot',
      'fail',
    ],
  ];
  for (const [patch, name, status] of cases) {
    const c = by({ ...good, ...patch })[name];
    t.equal(c?.status, status, `${name}: ${c?.detail}`);
    t.ok(c?.hint, `${name} says what to do`);
  }
  t.equal(worst(evaluate({ ...good, multicastRoute: false })), 'fail');
  t.match(
    by({ ...good, firstBoot: { ok: true, errors: [], at: '2026-11-25T08:00:00Z' } })['first-boot'],
    { status: 'pass', detail: /applied 2026-11-25/ },
    'a first boot that went well passes',
  );
  t.notOk(by(good)['first-boot'], 'no first boot on this machine: no check');
  t.equal(
    by({ ...good, mdnsBackend: 'avahi', port5353: ['avahi-daemon'] }).mdns?.status,
    'pass',
    'avahi backend with avahi-daemon alone on 5353 is healthy',
  );
  t.equal(
    by({ ...good, panel: { board: 'virtual', onPi: false } }).panel?.status,
    'pass',
    'virtual off a Pi is fine',
  );
});

t.test('facts from /proc and the data directory', async (t) => {
  const proc = t.testdir({
    net: {
      udp:
        '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
        '   1: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2\n' +
        '   2: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77 2\n',
      route:
        'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n' +
        'eth0\t000000E0\t00000000\t0001\t0\t0\t0\t000000F0\t0\t0\t0\n' +
        'wlan0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n',
    },
    '123': { comm: 'avahi-daemon\n', fd: {} },
    '456': { comm: 'sshd\n', fd: {} },
  });
  symlinkSync('socket:[4242]', join(proc, '123', 'fd', '5'));
  symlinkSync('socket:[77]', join(proc, '456', 'fd', '3'));
  t.same(port5353Owners(proc), ['avahi-daemon'], 'the holder of 5353, not of 53');

  t.equal(multicastRoute('eth0', proc), true, '224.0.0.0/4 on eth0');
  t.equal(multicastRoute('wlan0', proc), false, 'none on wlan0');
  t.equal(multicastRoute('eth0', join(proc, 'missing')), null, 'unreadable: unknown');
  const data = t.testdir();
  mkdirSync(join(data, 'identity'));
  writeFileSync(join(data, 'contacts.json'), '{}');
  writeFileSync(join(data, 'contacts.json.corrupt-1764000000000'), 'x');
  t.same(quarantinedFiles(data), ['contacts.json.corrupt-1764000000000']);
});

t.test('5353 held by a process the agent may not see: named by its user', async (t) => {
  // As the appliance's agent sees it (ProtectProc=invisible): other processes invisible, the socket's owner from its uid.
  const hidden = t.testdir({
    net: {
      udp:
        '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
        '   1: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   105        0 4242 2\n',
    },
    passwd: 'root:x:0:0::/root:/bin/sh\navahi:x:105:112:Avahi:/run/avahi-daemon:/usr/sbin/nologin\n',
  });
  t.same(port5353Owners(hidden, join(hidden, 'passwd')), ['user avahi'], 'named by its user');
  t.equal(
    by({ ...good, mdnsBackend: 'avahi', port5353: ['user avahi'] }).mdns?.status,
    'pass',
    'avahi-daemon seen by its user is healthy',
  );
});
