import t from 'tap';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import {
  applyFirstBoot,
  readFirstBootResult,
  zoneExists,
  type Chown,
  type Runner,
} from '../../../firmware/firstboot/apply.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { ed25519 } from './keys.js';

const root0 = process.getuid?.() === 0;
const PASS = 'correct horse battery staple';
const NOW = new Date('2026-03-01T08:00:00.000Z');

/** A fake target root and boot partition in a temp dir. */
function fixture(bootText?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'ph-firstboot-'));
  const root = join(dir, 'root');
  const boot = join(dir, 'boot');
  const w = (p: string, text: string | Buffer): void => {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), text);
  };
  w('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nadmin:x:1234:1235:Admin:/home/admin:/bin/bash\n');
  w('etc/hosts', '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n');
  w('etc/hostname', 'debian\n');
  w('usr/share/zoneinfo/Europe/Paris', Buffer.concat([Buffer.from('TZif2'), Buffer.alloc(40)]));
  w('usr/share/zoneinfo/zone.tab', '# not a zone\n');
  w(
    'etc/peerhub/peerhub.toml',
    '# shipped by the .deb\nclassifier = "hub"\nport = 7443\nlog_level = "info"\n\n[presence]\nbackend = "auto"\n',
  );
  w('etc/systemd/network/10-eth.network', '[Match]\nName=e*\n[Network]\nDHCP=yes\n');
  mkdirSync(join(root, 'home/admin'), { recursive: true });
  mkdirSync(boot);
  if (bootText !== undefined) writeFileSync(join(boot, 'peerhub.toml'), bootText);
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    calls.push(argv);
  };
  // As root the owners are set for real (and read back with stat); otherwise chown to another user is
  // refused (EPERM), so the owners the apply asked for are recorded (by final path) instead.
  const asked = new Map<string, [number, number]>();
  const chown: Chown | undefined = root0
    ? undefined
    : async (p, uid, gid) => void asked.set(p.replace(/\.firstboot-tmp$/, ''), [uid, gid]);
  const owner = (p: string): [number, number] | undefined =>
    root0 ? [statSync(p).uid, statSync(p).gid] : asked.get(p);
  const lines: Array<Record<string, unknown>> = [];
  const apply = (over: { run?: Runner; live?: boolean } = {}) =>
    applyFirstBoot(
      { logger: silentLogger(lines), run: over.run ?? run, now: () => NOW, chown },
      { bootDir: boot, root, live: over.live ?? true },
    );
  return { dir, root, boot, calls, lines, apply, owner, r: (p: string) => join(root, p) };
}

const fullFile = (key: string) => `
hostname = "kitchen-hub"
nickname = "Kitchen"
classifier = "home"
timezone = "Europe/Paris"
[wifi]
ssid = "Home"
passphrase = "${PASS}"
country = "FR"
[ssh]
authorized_keys = ["${key}"]
`;

const mode = (p: string): number => statSync(p).mode & 0o7777;

t.test('a full file is applied to the root: files, modes, owners, links, live commands', async (t) => {
  const key = ed25519('ann@laptop');
  const f = fixture(fullFile(key));
  // Where an earlier version enabled Wi-Fi (at every boot, waiting 90 s for a wlan0 that may not exist).
  const oldWants = f.r('etc/systemd/system/multi-user.target.wants/wpa_supplicant@wlan0.service');
  mkdirSync(dirname(oldWants), { recursive: true });
  symlinkSync('/usr/lib/systemd/system/wpa_supplicant@.service', oldWants);
  const out = await f.apply();
  t.equal(out.status, 'applied');
  t.equal(out.exitCode, 0);
  t.same(out.result?.errors, []);

  t.equal(readFileSync(f.r('etc/hostname'), 'utf8'), 'kitchen-hub\n');
  t.equal(readFileSync(f.r('etc/hosts'), 'utf8'), '127.0.0.1\tlocalhost\n127.0.1.1\tkitchen-hub\n');
  t.equal(readlinkSync(f.r('etc/localtime')), '/usr/share/zoneinfo/Europe/Paris');
  t.equal(readFileSync(f.r('etc/timezone'), 'utf8'), 'Europe/Paris\n');

  const agent = readFileSync(f.r('etc/peerhub/peerhub.toml'), 'utf8');
  t.same(parseToml(agent), {
    classifier: 'home',
    port: 7443,
    log_level: 'info',
    nickname: 'Kitchen',
    presence: { backend: 'auto' },
  });
  t.match(agent, /^# shipped by the \.deb$/m, 'comments kept');

  const wpa = f.r('etc/wpa_supplicant/wpa_supplicant-wlan0.conf');
  t.equal(mode(wpa), 0o600);
  t.match(readFileSync(wpa, 'utf8'), new RegExp(`^\\tpsk="${PASS}"$`, 'm'));
  t.match(readFileSync(wpa, 'utf8'), /^country=FR$/m);
  t.match(readFileSync(f.r('etc/systemd/network/30-wlan0.network'), 'utf8'), /Name=wlan0/);
  const wants = f.r(
    'etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants/wpa_supplicant@wlan0.service',
  );
  t.ok(lstatSync(wants).isSymbolicLink(), 'wpa_supplicant@wlan0 wanted by the wlan0 device');
  t.equal(readlinkSync(wants), '/usr/lib/systemd/system/wpa_supplicant@.service');
  t.notOk(existsSync(oldWants), 'no longer started at every boot (multi-user.target)');
  t.equal(
    readFileSync(f.r('etc/systemd/network/10-eth.network'), 'utf8'),
    '[Match]\nName=e*\n[Network]\nDHCP=yes\n',
    'Ethernet untouched',
  );

  const ssh = f.r('home/admin/.ssh');
  const ak = join(ssh, 'authorized_keys');
  t.equal(readFileSync(ak, 'utf8'), `${key}\n`);
  t.equal(mode(ssh), 0o700);
  t.equal(mode(ak), 0o600);
  t.same(f.owner(ssh), [1234, 1235], 'admin owns ~/.ssh');
  t.same(f.owner(ak), [1234, 1235], 'admin owns authorized_keys');
  t.same(f.owner(wpa), [0, 0], 'root owns the Wi-Fi file');
  if (!root0) t.comment('not root: owners as asked of chown (root: read back with stat)');

  t.same(f.calls, [
    ['hostname', 'kitchen-hub'],
    ['systemctl', 'daemon-reload'],
    [
      'sh',
      '-c',
      'if [ -e /sys/class/net/wlan0 ]; then exec systemctl --no-block start wpa_supplicant@wlan0.service; fi',
    ],
  ]);

  // The boot file: renamed, passphrase gone, the rest kept for reference.
  t.notOk(existsSync(join(f.boot, 'peerhub.toml')));
  const retired = readFileSync(join(f.boot, 'peerhub-applied.toml'), 'utf8');
  t.notOk(retired.includes(PASS), 'the passphrase is gone from the boot partition');
  t.match(
    retired,
    /^# peerhub firstboot applied this file on 2026-03-01T08:00:00\.000Z; secrets were removed\.$/m,
  );
  t.match(
    retired,
    /^# \[removed by peerhub firstboot on 2026-03-01T08:00:00\.000Z: this line could hold a secret\]$/m,
  );
  t.match(retired, /^hostname = "kitchen-hub"$/m);
  t.match(retired, /^ssid = "Home"$/m);
  t.notOk(existsSync(join(f.boot, 'peerhub-applied.toml.firstboot-tmp')));

  // The result file: no secrets, 0644, what was done.
  const resultPath = f.r('var/lib/peerhub-firstboot/result.json');
  t.equal(mode(resultPath), 0o644);
  const text = readFileSync(resultPath, 'utf8');
  t.notOk(text.includes(PASS));
  const result = JSON.parse(text);
  t.match(result, { at: NOW.toISOString(), outcome: 'applied', errors: [], warnings: [] });
  t.equal(result.bootFile, join(f.boot, 'peerhub-applied.toml'));
  t.equal(result.applied.length, 17);
  t.same(readFirstBootResult(resultPath), { ok: true, errors: [], at: NOW.toISOString() });

  // Logs: one line per action, never the passphrase.
  t.equal(f.lines.filter((l) => l.msg === 'applied').length, 17);
  t.notOk(JSON.stringify(f.lines).includes(PASS));
  t.ok(f.lines.every((l) => l.component === 'firstboot'));
});

t.test(
  'applied once: no file afterwards = nothing to do; a second file adds keys without duplicates',
  async (t) => {
    const k1 = ed25519('one');
    const k2 = ed25519('two');
    const f = fixture(`[ssh]\nauthorized_keys = ["${k1}"]\n`);
    t.equal((await f.apply()).exitCode, 0);
    const again = await f.apply();
    t.same(again, { status: 'nothing', exitCode: 0 });
    t.match(f.lines.at(-1), { msg: 'no first-boot file: nothing to do' });

    writeFileSync(
      join(f.boot, 'peerhub.toml'),
      `[ssh]\nauthorized_keys = ["${k1.replace(' one', ' renamed')}", "${k2}"]\n`,
    );
    const second = await f.apply();
    t.equal(second.exitCode, 0);
    t.equal(readFileSync(f.r('home/admin/.ssh/authorized_keys'), 'utf8'), `${k1}\n${k2}\n`);
    t.match(second.result?.applied, [
      'ssh: /home/admin/.ssh',
      'ssh: /home/admin/.ssh/authorized_keys (1 new key)',
    ]);
  },
);

t.test('a failing action is recorded; the others still run', async (t) => {
  const f = fixture(fullFile(ed25519()));
  mkdirSync(f.r('etc/timezone'), { recursive: true }); // a directory where a file must go: rename fails
  const run: Runner = async (argv) => {
    if (argv[0] === 'hostname') throw new Error('hostname: you must be root to change the host name');
  };
  const out = await f.apply({ run });
  t.equal(out.exitCode, 0, 'something was applied');
  t.equal(out.result?.errors.length, 2, out.result?.errors.join('\n') ?? '');
  t.match(out.result?.errors, [
    /^hostname: set on the running system: failed: hostname: you must be root/,
    /^timezone: \/etc\/timezone: failed: /,
  ]);
  t.equal(out.result?.applied.length, 15);
  t.equal(readFileSync(f.r('etc/hostname'), 'utf8'), 'kitchen-hub\n', 'before the failure');
  t.ok(existsSync(f.r('home/admin/.ssh/authorized_keys')), 'after the failure');
  t.ok(existsSync(join(f.boot, 'peerhub-applied.toml')));
  t.match(readFirstBootResult(f.r('var/lib/peerhub-firstboot/result.json')), {
    ok: false,
    errors: out.result?.errors,
  });
  t.equal(f.lines.filter((l) => l.msg === 'action failed').length, 2);
});

t.test('field errors: valid fields applied, bad ones reported in the result and the log', async (t) => {
  const f = fixture(
    'hostname = "bad_name"\nnickname = "Attic"\ntimezone = "Mars/Olympus"\nshoe = 1\n[wifi]\nssid = "x"\npassphrase = "1234567"\ncountry = "FR"\n',
  );
  const out = await f.apply();
  t.equal(out.exitCode, 0);
  t.equal(readFileSync(f.r('etc/hostname'), 'utf8'), 'debian\n', 'bad host name not applied');
  t.match(readFileSync(f.r('etc/peerhub/peerhub.toml'), 'utf8'), /^nickname = "Attic"$/m);
  t.notOk(existsSync(f.r('etc/wpa_supplicant')), 'no Wi-Fi');
  t.match(out.result, {
    errors: [
      /^hostname: /,
      /^timezone: unknown time zone "Mars\/Olympus"/,
      /^wifi\.passphrase: .*\(got 7 characters\)/,
    ],
    warnings: ['shoe: unknown key, ignored'],
  });
  t.notOk(
    readFileSync(join(f.boot, 'peerhub-applied.toml'), 'utf8').includes('1234567'),
    'an invalid passphrase is still a secret',
  );
  t.equal(f.lines.filter((l) => l.msg === 'first-boot file error').length, 3);
  t.equal(f.lines.filter((l) => l.msg === 'first-boot file warning').length, 1);
});

t.test('only errors, nothing applied: exit 1', async (t) => {
  const f = fixture('hostname = "-"\n');
  const out = await f.apply();
  t.equal(out.exitCode, 1);
  t.equal(out.status, 'applied');
  t.ok(existsSync(join(f.boot, 'peerhub-applied.toml')), 'still retired: it was read');
});

t.test(
  'a file that is not TOML: nothing applied, peerhub-invalid.toml without secret lines, exit 1',
  async (t) => {
    const text = `hostname = "kitchen-hub"\n[wifi]\nssid = "Home\npassphrase = "${PASS}"\nPSK=${PASS}\ncountry = "FR"\n`;
    const f = fixture(text);
    const out = await f.apply();
    t.equal(out.status, 'invalid');
    t.equal(out.exitCode, 1);
    t.equal(readFileSync(f.r('etc/hostname'), 'utf8'), 'debian\n');
    t.same(f.calls, []);
    t.notOk(existsSync(join(f.boot, 'peerhub.toml')));
    const kept = readFileSync(join(f.boot, 'peerhub-invalid.toml'), 'utf8');
    t.notOk(kept.includes(PASS));
    t.match(kept, /^# peerhub firstboot could NOT read this file on .*: nothing was applied\.$/m);
    t.match(kept, /^# peerhub\.toml: not valid TOML at line 3, column \d+: /m);
    t.match(kept, /^ssid = "Home$/m, 'the rest is kept to be fixed');
    t.match(out.result, {
      outcome: 'invalid',
      applied: [],
      errors: [/^peerhub\.toml: not valid TOML at line 3/],
    });
    t.match(readFirstBootResult(f.r('var/lib/peerhub-firstboot/result.json')), { ok: false });
  },
);

t.test('not live: commands are not run against the machine running the test', async (t) => {
  const f = fixture('hostname = "hub"\n[wifi]\nssid = "x"\ncountry = "FR"\n');
  await f.apply({ live: false });
  t.same(f.calls, []);
  t.equal(readFileSync(f.r('etc/hostname'), 'utf8'), 'hub\n');
});

t.test('a run interrupted after the copy was written only finishes the move', async (t) => {
  const f = fixture('hostname = "hub"\n');
  const copy = '# peerhub firstboot applied …\nhostname = "hub"\n';
  writeFileSync(join(f.boot, 'peerhub-applied.toml'), copy);
  writeFileSync(join(f.boot, 'peerhub.toml'), `${copy}        `); // scrubbed in place, padded
  const out = await f.apply();
  t.same(out, { status: 'finished', exitCode: 0 });
  t.notOk(existsSync(join(f.boot, 'peerhub.toml')));
  t.equal(readFileSync(f.r('etc/hostname'), 'utf8'), 'debian\n', 'nothing applied again');
});

t.test('zoneExists wants a compiled zone, not any file', async (t) => {
  const f = fixture();
  const has = zoneExists(f.root);
  t.ok(has('Europe/Paris'));
  t.notOk(has('zone.tab'));
  t.notOk(has('Europe'));
  t.notOk(has('Asia/Tokyo'));
});

t.test('readFirstBootResult: none, damaged, unreadable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-firstboot-result-'));
  t.equal(readFirstBootResult(join(dir, 'none.json')), null);
  writeFileSync(join(dir, 'bad.json'), '{"at": 1');
  t.match(readFirstBootResult(join(dir, 'bad.json')), { ok: false, at: null, errors: [/damaged/] });
  writeFileSync(join(dir, 'odd.json'), '[]');
  t.match(readFirstBootResult(join(dir, 'odd.json')), { ok: false, errors: [/not a first-boot result/] });
  t.match(readFirstBootResult(dir), { ok: false, errors: [/unreadable/] }, 'a directory');
});
