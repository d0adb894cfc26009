#!/usr/bin/env node
// `npm run test:image`: boot the built appliance image under qemu-system-aarch64 -M virt and check it
// over SSH like an owner would after the first boot.
//
//   node test/image/boot.mjs [--image deploy/out/peerhub-<version>-arm64.img] [--keep]
//
// A copy of the image (grown by 1 GiB, to see the root grow) gets a first-boot file on its FAT partition
// (mtools, no mounting): host name, nickname, time zone, a fake Wi-Fi network and the public half of a
// key pair made for this run. The Debian arm64 kernel and initrd of the build boot it (from
// deploy/out/<name>.boot/, else read from the FAT partition). The guest's network is QEMU user mode with
// `restrict=on`: it reaches nothing; only its port 22 is forwarded to a free port on 127.0.0.1.
// Ends with the plain line `N passed, N failed, N skipped`; exit code 1 on any failure.
// The serial console is kept in deploy/out/boot-test-console.log.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const version = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version;
const name = `peerhub-${version}-arm64`;
const out = join(repo, 'deploy/out');
const image = resolve(opt('--image') ?? process.env.PEERHUB_IMAGE ?? join(out, `${name}.img`));
const keep = args.includes('--keep');
const consoleLog = join(out, 'boot-test-console.log');

const BOOT_DEADLINE_MS = 10 * 60_000; // first SSH login after power-on, under emulation
const SSH_BLIND_MS = 6 * 60_000; // try SSH from here on even if the console never said sshd started
const SSH_ATTEMPT_MS = 120_000; // one login attempt, key exchange included, on a slow emulated guest
const AGENT_DEADLINE_MS = 3 * 60_000; // agent active after the first login
const POWEROFF_DEADLINE_MS = 2 * 60_000;
const GROW_BYTES = 1024 ** 3;

const SETTINGS = {
  hostname: 'ph-boottest',
  nickname: 'Boot Test Hub',
  timezone: 'Europe/Paris',
  ssid: 'peerhub-boot-test',
  passphrase: `not-a-real-passphrase-${process.pid}`,
  country: 'FR',
};

/** The checks that need a login, skipped when there is none. */
const AFTER_LOGIN = [
  'host name applied',
  'agent active',
  'peerhub status --json',
  'peerhub doctor --json',
  'first-boot file retired',
  'Wi-Fi passphrase removed',
  'machine-id made on the device',
  'SSH host keys made on the device',
  'root file system grown',
  'time zone applied',
  'Wi-Fi started by its interface',
  'guest powers off cleanly',
];

const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
const log = (msg) => console.log(`# [+${secs()}s] ${msg}`);
const results = { pass: 0, fail: 0, skip: 0 };
let n = 0;
function check(title, ok, detail = '') {
  n++;
  if (ok) results.pass++;
  else results.fail++;
  console.log(`${ok ? 'ok' : 'not ok'} ${n} - ${title}${detail ? ` # ${detail}` : ''}`);
  return ok;
}
function skip(title, why) {
  n++;
  results.skip++;
  console.log(`ok ${n} - ${title} # SKIP ${why}`);
}
function finish() {
  console.log(`1..${n}`);
  console.log(`${results.pass} passed, ${results.fail} failed, ${results.skip} skipped`);
  process.exitCode = results.fail > 0 ? 1 : 0;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${argv.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r;
}

/** Partitions of a disk image, from `sfdisk --json`: byte offsets and sizes. */
function partitions(img) {
  const table = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
  const sector = table.sectorsize ?? 512;
  return table.partitions.map((p) => ({ offset: p.start * sector, size: p.size * sector, type: p.type }));
}

/** The first-boot file as an owner writes it (config/firstboot.example.toml). */
function firstBootToml(publicKey) {
  const q = (s) => JSON.stringify(s);
  return [
    `hostname = ${q(SETTINGS.hostname)}`,
    `nickname = ${q(SETTINGS.nickname)}`,
    `timezone = ${q(SETTINGS.timezone)}`,
    '',
    '[wifi]',
    `ssid = ${q(SETTINGS.ssid)}`,
    `passphrase = ${q(SETTINGS.passphrase)}`,
    `country = ${q(SETTINGS.country)}`,
    '',
    '[ssh]',
    `authorized_keys = [${q(publicKey)}]`,
    '',
  ].join('\n');
}

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Kernel and initrd of the build: deploy/out/<name>.boot/, else copied out of the FAT partition. */
function kernelFiles(img, boot, dir) {
  const built = join(out, `${name}.boot`);
  if (existsSync(join(built, 'vmlinuz')) && existsSync(join(built, 'initrd.img'))) {
    return { kernel: join(built, 'vmlinuz'), initrd: join(built, 'initrd.img') };
  }
  const fat = `${img}@@${boot.offset}`;
  const files = run('mdir', ['-b', '-i', fat, '::/']).stdout.split('\n');
  const pick = (prefix) => {
    const f = files.map((l) => l.trim().replace(/^::\//, '')).filter((l) => l.startsWith(prefix));
    if (f.length === 0) throw new Error(`no ${prefix}* on the boot partition`);
    return f.sort().at(-1);
  };
  const kernel = join(dir, 'vmlinuz');
  const initrd = join(dir, 'initrd.img');
  run('mcopy', ['-n', '-i', fat, `::/${pick('vmlinuz-')}`, kernel]);
  run('mcopy', ['-n', '-i', fat, `::/${pick('initrd.img-')}`, initrd]);
  return { kernel, initrd };
}

/** ssh without blocking the event loop: { status, stdout, stderr } (status null when killed). */
function sshAsync(base, command, timeoutMs) {
  return new Promise((res) => {
    const child = spawn('ssh', [...base, command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-8000)));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      res({ status: null, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      res({ status, stdout, stderr: signal ? `${stderr}killed (${signal}) after ${timeoutMs} ms` : stderr });
    });
  });
}

/** One line for a failed ssh: its last message, or its exit status. */
function sshFailure(r) {
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  return lines.length > 0 ? lines.at(-1).slice(0, 200) : `exit ${r.status}`;
}

/** Failed attempts grouped by message, in the order first seen: "N× message (+first s … +last s)". */
function summariseAttempts(attempts) {
  const groups = new Map();
  for (const a of attempts) {
    const g = groups.get(a.why) ?? { n: 0, first: a.at, last: a.at, took: 0 };
    g.n++;
    g.last = a.at;
    g.took = Math.max(g.took, a.took);
    groups.set(a.why, g);
  }
  return [...groups].map(
    ([why, g]) =>
      `${g.n}× ${why} (+${g.first.toFixed(0)}s … +${g.last.toFixed(0)}s, longest ${g.took.toFixed(0)}s)`,
  );
}

/** Boot-console lines worth a time stamp in the log: our units, sshd, failures and the login prompt. */
const MILESTONE = /peerhub|ssh|Failed|FAILED|Timed out|login:/;

/**
 * Follows the serial console file while the guest boots and stamps each line with the seconds since
 * power-on at which it was first read (polled every second: the stamps are ±1 s).
 */
function watchConsole(path, since) {
  const seen = [];
  let offset = 0;
  let partial = '';
  const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g'); // terminal colours
  const strip = (l) => l.replace(ansi, '').replace(/\r/g, '').trimEnd();
  const poll = () => {
    let buf;
    try {
      buf = readFileSync(path);
    } catch {
      return;
    }
    if (buf.length <= offset) return;
    const text = partial + buf.subarray(offset).toString('utf8');
    offset = buf.length;
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    const at = (Date.now() - since) / 1000;
    for (const l of parts.map(strip)) if (l) seen.push({ at, text: l });
  };
  const timer = setInterval(poll, 1000);
  return {
    stop() {
      clearInterval(timer);
      poll();
    },
    lines: () => seen,
    milestones: () => seen.filter((l) => MILESTONE.test(l.text)),
  };
}

let qemu = null;
let qemuExited = null;
let dir = null;

function cleanup() {
  if (qemu && qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
  if (dir && !keep) rmSync(dir, { recursive: true, force: true });
  else if (dir) log(`kept ${dir}`);
  dir = null;
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}
process.on('exit', cleanup);

async function main() {
  const missing = ['qemu-system-aarch64', 'mcopy', 'sfdisk', 'ssh', 'ssh-keygen'].filter(
    (c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0,
  );
  if (missing.length > 0) {
    check(
      'host tools present',
      false,
      `missing ${missing.join(', ')}: apt-get install qemu-system-arm mtools fdisk openssh-client`,
    );
    return;
  }
  if (!existsSync(image)) {
    check('built image present', false, `no ${image}: run "npm run image" first (root)`);
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'peerhub-boot-'));
  const copy = join(dir, 'disk.img');
  log(`copying ${image}`);
  run('cp', ['--sparse=always', image, copy]);
  const built = partitions(copy);
  check('image has a FAT boot and a Linux root partition', built.length === 2 && built[0].type === 'c');
  const [boot, root] = built;
  run('truncate', ['-s', `+${GROW_BYTES}`, copy]);

  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'peerhub-boot-test', '-f', join(dir, 'key')]);
  const publicKey = readFileSync(join(dir, 'key.pub'), 'utf8').trim();
  writeFileSync(join(dir, 'peerhub.toml'), firstBootToml(publicKey));
  const fat = `${copy}@@${boot.offset}`;
  run('mcopy', ['-o', '-i', fat, join(dir, 'peerhub.toml'), '::/peerhub.toml']);
  const { kernel, initrd } = kernelFiles(copy, boot, dir);

  const port = await freePort();
  const qemuArgs = [
    '-M', 'virt',
    '-cpu', 'max,pauth-impdef=on',
    '-smp', '2',
    '-m', '1024',
    '-nographic',
    '-monitor', 'none',
    '-serial', `file:${consoleLog}`,
    '-no-reboot',
    '-kernel', kernel,
    '-initrd', initrd,
    '-append', 'root=LABEL=PHROOT rw rootwait console=ttyAMA0 panic=-1',
    '-drive', `file=${copy},format=raw,if=virtio`,
    // restrict=on: the guest reaches no network at all; only its SSH port is forwarded to loopback.
    '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:22`,
    '-device', 'virtio-net-pci,netdev=n0,romfile=',
  ]; // prettier-ignore
  log(`booting: qemu-system-aarch64 (SSH on 127.0.0.1:${port}, console ${consoleLog})`);
  const bootStart = Date.now();
  qemu = spawn('qemu-system-aarch64', qemuArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let qemuErr = '';
  qemu.stderr.on('data', (d) => (qemuErr = (qemuErr + d).slice(-4000)));
  qemuExited = new Promise((res) => qemu.on('exit', (code, signal) => res({ code, signal })));

  const keyPath = join(dir, 'key');
  const sshBase = [
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'ConnectTimeout=60',
    '-o', 'IdentitiesOnly=yes',
    '-i', keyPath,
    '-p', String(port),
    'admin@127.0.0.1',
  ]; // prettier-ignore
  const ssh = (command, timeoutMs = 60_000) =>
    spawnSync('ssh', [...sshBase, command], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 });

  // Wait for the first login: sshd up with host keys made on the device, admin's key from the file.
  // ssh runs asynchronously here, so that the console watcher keeps stamping lines while it waits.
  const watcher = watchConsole(consoleLog, bootStart);
  const attempts = [];
  let loggedIn = false;
  let exited = null;
  qemuExited.then((e) => (exited = e));
  // Knock only once the console says sshd started (or after SSH_BLIND_MS without that line), with time
  // to finish: every connection sshd sees closed before authentication counts toward OpenSSH's per-source
  // penalty (PerSourcePenalties, noauth), all of ours come from QEMU's one NAT address, and a penalised
  // source is refused for up to 10 minutes — more than the whole deadline.
  const sshdStarted = () => watcher.lines().some((l) => /Started .*ssh\.service/.test(l.text));
  while (Date.now() - bootStart < BOOT_DEADLINE_MS && exited === null) {
    if (!sshdStarted() && Date.now() - bootStart < SSH_BLIND_MS) {
      await sleep(1000);
      continue;
    }
    const at = Date.now();
    const r = await sshAsync(sshBase, 'true', SSH_ATTEMPT_MS);
    if (r.status === 0) {
      loggedIn = true;
      break;
    }
    attempts.push({ at: (at - bootStart) / 1000, took: (Date.now() - at) / 1000, why: sshFailure(r) });
    await sleep(10_000);
  }
  watcher.stop();
  const bootSecs = ((Date.now() - bootStart) / 1000).toFixed(0);
  for (const m of watcher.milestones()) log(`console: +${m.at.toFixed(0)}s ${m.text}`);
  if (
    !check(
      'SSH login as admin with the key from the first-boot file',
      loggedIn,
      loggedIn
        ? `after ${bootSecs}s`
        : exited
          ? `qemu exited ${JSON.stringify(exited)} ${qemuErr.trim()}`
          : `no login in ${bootSecs}s`,
    )
  ) {
    // What the client saw (each kind of failure, first and last time) and the console with boot times.
    for (const a of summariseAttempts(attempts)) console.log(`#   ssh: ${a}`);
    for (const l of watcher.lines().slice(-60)) console.log(`#   console +${l.at.toFixed(0)}s: ${l.text}`);
    for (const title of AFTER_LOGIN) skip(title, 'no SSH login');
    return;
  }
  log(`first login ${bootSecs}s after power-on`);

  const host = ssh('hostname').stdout.trim();
  check('host name from the first-boot file applied', host === SETTINGS.hostname, `hostname=${host}`);

  let active = '';
  const agentStart = Date.now();
  while (Date.now() - agentStart < AGENT_DEADLINE_MS) {
    active = ssh('systemctl is-active peerhub').stdout.trim();
    if (active === 'active' || active === 'failed') break;
    await sleep(3000);
  }
  check('agent active under systemd', active === 'active', `peerhub.service ${active}`);

  const status = ssh('peerhub status --json');
  let statusJson = null;
  try {
    statusJson = JSON.parse(status.stdout);
  } catch {
    /* reported below */
  }
  check(
    '`peerhub status --json` answers over SSH with the nickname from the file',
    statusJson !== null && statusJson.nickname === SETTINGS.nickname,
    statusJson
      ? `nickname=${JSON.stringify(statusJson.nickname)}`
      : `exit ${status.status}: ${(status.stderr || status.stdout).trim().slice(0, 200)}`,
  );

  const doctor = ssh('peerhub doctor --json');
  let doctorJson = null;
  try {
    doctorJson = JSON.parse(doctor.stdout);
  } catch {
    /* reported below */
  }
  const checks = Array.isArray(doctorJson) ? doctorJson : (doctorJson?.checks ?? []);
  check(
    '`peerhub doctor --json` answers over SSH',
    doctorJson !== null && checks.length > 0,
    doctorJson
      ? `exit ${doctor.status}`
      : `exit ${doctor.status}: ${(doctor.stderr || doctor.stdout).trim().slice(0, 200)}`,
  );
  for (const c of checks) log(`doctor: ${c.name}: ${c.status}${c.detail ? ` (${c.detail})` : ''}`);

  const bootFiles = ssh('ls -1 /boot/firmware').stdout.split('\n');
  const applied = ssh('sudo -n cat /boot/firmware/peerhub-applied.toml');
  check(
    'first-boot file retired: no peerhub.toml left on the boot partition',
    !bootFiles.includes('peerhub.toml') && bootFiles.includes('peerhub-applied.toml'),
    bootFiles.filter((f) => f.startsWith('peerhub')).join(' '),
  );
  check(
    'Wi-Fi passphrase removed from the boot partition (sudo without password works)',
    applied.status === 0 && !applied.stdout.includes(SETTINGS.passphrase),
    applied.status === 0 ? '' : `sudo cat: exit ${applied.status} ${applied.stderr.trim()}`,
  );

  const id = ssh('cat /etc/machine-id; ls /etc/ssh/ssh_host_*_key.pub').stdout.trim().split('\n');
  check('machine-id made on the device', /^[0-9a-f]{32}$/.test(id[0] ?? ''), `machine-id=${id[0] ?? ''}`);
  check('SSH host keys made on the device', id.slice(1).length >= 2, id.slice(1).join(' '));

  const size = Number(ssh('df -B1 --output=size / | tail -n 1').stdout.trim());
  check(
    'root file system grown to the (larger) disk on first boot',
    size > root.size + GROW_BYTES / 2,
    `/ is ${(size / 2 ** 20).toFixed(0)} MiB, built partition ${(root.size / 2 ** 20).toFixed(0)} MiB`,
  );

  const tz = ssh('cat /etc/timezone').stdout.trim();
  check('time zone from the first-boot file applied', tz === SETTINGS.timezone, `timezone=${tz}`);

  // The guest has no wlan0: Wi-Fi from the file must wait for the interface, not hold the boot for it.
  const wifi = ssh(
    'systemctl show -p Wants --value sys-subsystem-net-devices-wlan0.device; ls /etc/systemd/system/multi-user.target.wants/',
  ).stdout;
  const [wlanWants = '', ...enabled] = wifi.trim().split('\n');
  const waited = watcher.lines().find((l) => /Timed out waiting for device.*wlan0/.test(l.text));
  check(
    'Wi-Fi started by its interface: wpa_supplicant@wlan0 wanted by the wlan0 device, no boot wait without one',
    wlanWants.includes('wpa_supplicant@wlan0.service') &&
      !enabled.includes('wpa_supplicant@wlan0.service') &&
      waited === undefined,
    `wlan0 device wants: ${wlanWants || '(none)'}${waited ? `; console +${waited.at.toFixed(0)}s: ${waited.text}` : ''}`,
  );

  const state = ssh('systemctl is-system-running; systemctl --failed --no-legend --plain').stdout.trim();
  log(`system state: ${state.replace(/\n/g, ' | ')}`);
  // Context for the doctor's verdicts and the boot time (information, not checks).
  const info = ssh(
    'systemd-analyze 2>&1 | head -n 1; systemd-analyze blame 2>&1 | head -n 5; ip -4 route; ip -br addr; sudo -n ss -ulpnH "sport = :5353"',
  ).stdout;
  for (const l of info.trim().split('\n')) log(`guest: ${l}`);

  log('powering off');
  ssh('sudo -n systemctl poweroff', 20_000);
  // An unref'd timer: once qemu is gone it must not hold the test's exit for the rest of the deadline.
  const off = await Promise.race([
    qemuExited,
    new Promise((res) => setTimeout(() => res(null), POWEROFF_DEADLINE_MS).unref()),
  ]);
  check(
    'guest powers off cleanly',
    off !== null,
    off ? `after ${secs()}s total` : 'killed after the deadline',
  );
}

try {
  await main();
} catch (e) {
  check('boot test ran to the end', false, e instanceof Error ? e.message : String(e));
} finally {
  cleanup();
  finish();
}
