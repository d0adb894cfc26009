/**
 * The Debian package in a Debian trixie chroot (`npm run test:deb`; not part of `npm test`):
 * install an old version → the user, directories, enable symlink, the CLI, a real agent run (identity,
 * a contact, the sd_notify messages it sends through trixie's systemd-notify) → upgrade (identity,
 * contacts and an edited conffile kept) → purge (user, state, config and every packaged file gone).
 * Plus `systemd-analyze verify` / `security --offline=true` of the unit and `udevadm verify` of the rule,
 * with trixie's systemd 257.
 *
 * Agents run in network namespaces made here (a veth pair on 10.77.250.0/24 inside the namespace, no
 * route out): their mDNS traffic never leaves them. Root needed; skipped with a message otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { chrootSkipReason, createChroot, mustRun, run, type Chroot } from './chroot.js';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
const NEW = pkg.version;
const OLD = `${pkg.version}~old1`;
/** `systemd-analyze security --offline=true` on trixie's systemd 257 measured 1.7 for this unit. */
const MAX_EXPOSURE = 2.0;
const SOCKET = '/run/peerhub/control.sock';

/** Newest modification time under `dir` of files matching `re`. */
function newest(dir: string, re: RegExp): number {
  let m = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) m = Math.max(m, newest(p, re));
    else if (re.test(e.name)) m = Math.max(m, statSync(p).mtimeMs);
  }
  return m;
}

/** dist/ is older than a source file: the package build must compile first. */
function distStale(): boolean {
  const main = join(repo, 'dist/firmware/cli/main.js');
  if (!existsSync(main) || !existsSync(join(repo, 'dist/overlays'))) return true;
  const built = statSync(main).mtimeMs;
  return (
    Math.max(newest(join(repo, 'firmware'), /\.ts$/), newest(join(repo, 'board'), /\.(ts|dts)$/)) > built
  );
}

async function buildDeb(version: string, out: string, build: boolean): Promise<{ path: string; ms: number }> {
  const started = Date.now();
  const args = ['scripts/build-deb.mjs', '--out', out, ...(build ? [] : ['--no-build'])];
  const stdout = await mustRun(process.execPath, args, {
    cwd: repo,
    env: { ...process.env, PEERHUB_DEB_VERSION: version },
    timeoutMs: 600_000,
  });
  const path = stdout.trim().split('\n').pop() ?? '';
  if (!path.endsWith(`peerhub_${version}_all.deb`) || !existsSync(path)) {
    throw new Error(`build-deb printed no package path:\n${stdout}`);
  }
  return { path, ms: Date.now() - started };
}

/** Every path in the tree (relative, "/"-rooted), without the API and scratch file systems. */
async function snapshot(c: Chroot): Promise<Set<string>> {
  const out = await mustRun('find', [c.root, '-xdev', '-path', `${c.root}/proc`, '-prune', '-o', '-print'], {
    timeoutMs: 120_000,
  });
  return new Set(
    out
      .split('\n')
      .filter(Boolean)
      .map((p) => p.slice(c.root.length) || '/'),
  );
}

/** Paths that may appear without being the package's leftovers (apt/dpkg bookkeeping, logs, backups). */
const VOLATILE =
  /^\/(tmp|run|root|home|var\/log|var\/mail|var\/spool\/mail|var\/cache|var\/lib\/dpkg|var\/lib\/apt|var\/tmp)(\/|$)|^\/etc\/(passwd|group|shadow|gshadow|subuid|subgid)-$|^\/etc\/\.pwd\.lock$|^\/etc\/(subuid|subgid)$/;

interface RunningAgent {
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

const NETNS_SETUP = [
  'ip link set lo up',
  'ip link add v0 type veth peer name v1',
  'ip addr add 10.77.250.1/24 dev v0',
  'ip link set v1 up',
  'ip link set v0 up',
  'ip route add 224.0.0.0/4 dev v0',
].join(' && ');

const skip = await chrootSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const out = mkdtempSync(join(tmpdir(), 'peerhub-debs-'));
  const agents = new Set<ChildProcess>();
  let chroot: Chroot | null = null;
  t.teardown(async () => {
    for (const a of agents) a.kill('SIGKILL');
    await chroot?.destroy();
    rmSync(out, { recursive: true, force: true });
  });
  process.once('exit', () => {
    for (const a of agents) a.kill('SIGKILL');
    if (chroot) {
      spawnSync('umount', ['-l', join(chroot.root, 'proc')]);
    }
  });

  const log = (line: string): void => void t.comment(line);
  const needBuild = distStale();
  // The chroot (cached) and the two packages at the same time; only the first build compiles.
  const [c, [oldDeb, newDeb]] = await Promise.all([
    createChroot(join(repo, 'deploy/out/cache'), log),
    buildDeb(OLD, out, needBuild).then(async (o) => [o, await buildDeb(NEW, out, false)] as const),
  ]);
  chroot = c;
  log(
    `chroot ${c.cached ? 'from cache' : 'built'} in ${(c.prepareMs / 1000).toFixed(1)} s; ` +
      `${OLD}: ${(statSync(oldDeb.path).size / 1048576).toFixed(2)} MiB, built in ${(oldDeb.ms / 1000).toFixed(1)} s`,
  );
  mkdirSync(join(c.root, 'tmp/debs'), { recursive: true });
  copyFileSync(oldDeb.path, join(c.root, 'tmp/debs/old.deb'));
  copyFileSync(newDeb.path, join(c.root, 'tmp/debs/new.deb'));

  const sh = (script: string, opts: Parameters<typeof run>[2] = {}) => c.exec(['sh', '-c', script], opts);
  const mustSh = async (script: string): Promise<string> => {
    const r = await sh(script, { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`chroot: ${script} exited ${r.code}:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  /** `peerhub agent` in the chroot, in a fresh network namespace, as `user` (setpriv: no fork, so
   * SIGTERM reaches node), with extra environment. */
  const startAgent = (user: string, args: string[], env: Record<string, string> = {}): RunningAgent => {
    const envArgs = Object.entries({ PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...env }).map(
      ([k, v]) => `${k}=${v}`,
    );
    const priv =
      user === 'root' ? [] : ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--'];
    const inner = ['chroot', c.root, ...priv, 'env', '-i', ...envArgs, 'peerhub', 'agent', ...args];
    const child = spawn(
      'unshare',
      ['-n', '--', 'sh', '-c', `${NETNS_SETUP} && exec "$@"`, 'netns', ...inner],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    agents.add(child);
    let output = '';
    child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    return {
      child,
      output: () => output,
      async stop() {
        child.kill('SIGTERM');
        const k = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const code = await closed;
        clearTimeout(k);
        agents.delete(child);
        return code;
      },
    };
  };

  /** Wait (bounded) until `peerhub status --json` answers on `socket`; returns the status. */
  const waitStatus = async (
    agent: RunningAgent,
    socket: string,
  ): Promise<{ id: string; nickname: string; version: string }> => {
    const deadline = Date.now() + 60_000;
    let last = '';
    while (Date.now() < deadline) {
      if (agent.child.exitCode !== null)
        throw new Error(`agent exited ${agent.child.exitCode}:\n${agent.output()}`);
      const r = await c.exec(['peerhub', '--socket', socket, 'status', '--json'], { timeoutMs: 20_000 });
      if (r.code === 0) return JSON.parse(r.stdout) as { id: string; nickname: string; version: string };
      last = r.stderr;
      await new Promise((res) => setTimeout(res, 250));
    }
    throw new Error(`agent did not answer on ${socket} within 60 s: ${last}\n${agent.output()}`);
  };

  /** Files under /var/lib/peerhub with their sha256 (identity, contacts, state). */
  const stateDigest = async (): Promise<Record<string, string>> => {
    const text = await mustSh(
      'cd /var/lib/peerhub && find . -type f ! -name "*.tmp" -print0 | xargs -0 -r sha256sum',
    );
    const rows = text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [hash, ...name] = l.split('  ');
        return [name.join('  '), hash ?? ''] as [string, string];
      });
    return Object.fromEntries(rows.sort());
  };

  /** The systemd runtime directory the unit would make: /run/peerhub, peerhub:peerhub 0750. */
  const runtimeDir = (): Promise<string> => mustSh('install -d -o peerhub -g peerhub -m 0750 /run/peerhub');

  let before: Set<string> = new Set();
  let peerId = '';
  let contactId = '';
  let stateBefore: Record<string, string> = {};

  await t.test('the unit: systemd-analyze verify and security (trixie systemd 257)', async (t) => {
    copyFileSync(join(repo, 'deploy/systemd/peerhub.service'), join(c.root, 'tmp/peerhub.service'));
    const v = await c.exec(['systemd-analyze', 'verify', '/tmp/peerhub.service'], { timeoutMs: 60_000 });
    t.equal(v.code, 0, `systemd-analyze verify exits 0 ${v.stderr}`);
    t.equal(v.stderr.trim(), '', 'and has nothing to say');
    const s = await c.exec(['systemd-analyze', 'security', '--offline=true', '/tmp/peerhub.service'], {
      timeoutMs: 60_000,
    });
    const m = /Overall exposure level for peerhub\.service: ([\d.]+)/.exec(s.stdout);
    t.ok(m, 'an exposure score');
    const score = Number(m?.[1]);
    t.comment(`systemd-analyze security --offline=true: exposure ${score}`);
    t.ok(score <= MAX_EXPOSURE, `exposure ${score} <= ${MAX_EXPOSURE}`);
  });

  await t.test('install the old version', async (t) => {
    before = await snapshot(c);
    const i = await c.exec(['dpkg', '-i', '/tmp/debs/old.deb'], { timeoutMs: 300_000 });
    t.equal(i.code, 0, `dpkg -i exits 0 ${i.stderr}`);
    const q = await c.exec(['dpkg-query', '-W', '-f', '${Version} ${db:Status-Status}', 'peerhub']);
    t.equal(q.stdout, `${OLD} installed`, 'dpkg says installed');
    const pw = (await mustSh('getent passwd peerhub')).trim().split(':');
    t.equal(pw[5], '/var/lib/peerhub', 'home');
    t.match(pw[6], /nologin$/, 'no login shell');
    t.ok(Number(pw[2]) < 1000, `a system uid (${pw[2]})`);
    t.ok((await sh('getent group peerhub')).code === 0, 'group peerhub');
    const groups = (await mustSh('id -nG peerhub')).trim().split(/\s+/);
    if ((await sh('getent group input')).code === 0) t.ok(groups.includes('input'), 'in group input');
    t.equal((await mustSh('stat -c "%U:%G %a" /var/lib/peerhub')).trim(), 'peerhub:peerhub 700', 'state dir');
    t.equal(
      (await mustSh('stat -c "%U:%G %a" /etc/peerhub/peerhub.toml')).trim(),
      'root:root 644',
      'conffile',
    );
    t.equal(
      (await mustSh('readlink /etc/systemd/system/multi-user.target.wants/peerhub.service')).trim(),
      '/usr/lib/systemd/system/peerhub.service',
      'enabled (multi-user.target.wants symlink)',
    );
    const u = await c.exec(['udevadm', 'verify', '--no-style', '/usr/lib/udev/rules.d/60-peerhub.rules']);
    t.equal(u.code, 0, `udev rule installed, udevadm verify passes ${u.stdout}${u.stderr}`);
    t.equal((await sh('find /usr/lib/peerhub -name "*.node"')).stdout.trim(), '', 'no native addon');
    const again = await c.exec(['dpkg', '--configure', '--force-all', '-a'], { timeoutMs: 120_000 });
    t.equal(again.code, 0, 'configuring again is harmless');
  });

  await t.test('the CLI without an agent: help, version, a clear "agent not running"', async (t) => {
    const help = await c.exec(['peerhub', '--help']);
    t.equal(help.code, 0, 'peerhub --help');
    t.match(help.stdout, /Usage: peerhub/);
    const version = await c.exec(['peerhub', '--version']);
    t.equal(version.code, 0, version.stderr);
    t.equal(version.stdout.trim(), OLD, 'peerhub --version');
    const st = await c.exec(['peerhub', 'status']);
    t.equal(st.code, 1, 'exit 1');
    t.match(st.stderr, /^peerhub: agent not running/, 'one clear line');
    t.notMatch(st.stderr, /\n\s+at /, 'no stack trace');
  });

  await t.test(
    'the agent as user peerhub with the installed config: identity, contact, sd_notify',
    async (t) => {
      await runtimeDir();
      // A receiver for the agent's sd_notify messages (what PID 1 would get), inside the chroot's /run.
      mkdirSync(join(c.root, 'run/notify'), { recursive: true });
      chmodSync(join(c.root, 'run/notify'), 0o755);
      const notifyPath = join(c.root, 'run/notify/sock');
      const script = [
        'import socket, os, sys, array',
        's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
        's.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666); s.settimeout(120)',
        'print("LISTENING", flush=True)',
        'while True:',
        '    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(64))',
        '    for level, typ, data in anc:',
        '        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:',
        '            fds = array.array("i"); fds.frombytes(data[: len(data) - len(data) % 4])',
        '            [os.close(fd) for fd in fds]',
        '    print(msg.decode().replace("\\n", "|"), flush=True)',
      ].join('\n');
      const rx = spawn('/usr/bin/python3', ['-c', script, notifyPath], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      agents.add(rx);
      let notes = '';
      rx.stdout.on('data', (b: Buffer) => (notes += b.toString()));
      const until = async (what: () => boolean, ms: number): Promise<boolean> => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          if (what()) return true;
          await new Promise((r) => setTimeout(r, 100));
        }
        return what();
      };
      t.ok(await until(() => notes.includes('LISTENING'), 20_000), 'notify receiver up');

      const a = startAgent('peerhub', [], { NOTIFY_SOCKET: '/run/notify/sock', WATCHDOG_USEC: '2000000' });
      const s = await waitStatus(a, SOCKET);
      peerId = s.id;
      t.match(peerId, /^[A-Z2-7-]{20,}$/, `peer id ${peerId}`);
      t.equal(s.version, OLD, 'the installed version runs');
      t.equal(
        (await mustSh(`stat -c "%U:%G %a" ${SOCKET}`)).trim(),
        'peerhub:peerhub 660',
        'control socket peerhub:peerhub 0660',
      );
      t.match(await mustSh('ls /var/lib/peerhub/identity'), /\S/, 'identity files under /var/lib/peerhub');
      t.equal((await mustSh('stat -c %U /var/lib/peerhub/identity')).trim(), 'peerhub', 'owned by peerhub');

      // The owner's SSH user, in group peerhub, uses the CLI without flags; another user cannot.
      await mustSh(
        'id owner >/dev/null 2>&1 || useradd -m -G peerhub owner; id stranger >/dev/null 2>&1 || useradd -m stranger',
      );
      const owner = await c.exec([
        'setpriv',
        '--reuid=owner',
        '--regid=owner',
        '--init-groups',
        'env',
        'HOME=/home/owner',
        'peerhub',
        'id',
        '--json',
      ]);
      t.equal(owner.code, 0, `a member of group peerhub runs peerhub id ${owner.stderr}`);
      t.match(owner.stdout, peerId);
      const stranger = await c.exec([
        'setpriv',
        '--reuid=stranger',
        '--regid=stranger',
        '--init-groups',
        'env',
        'HOME=/home/stranger',
        'peerhub',
        'status',
      ]);
      t.equal(stranger.code, 1, 'a user outside group peerhub cannot reach the agent');
      t.notMatch(stranger.stderr, /\n\s+at /, 'and gets no stack trace');

      // A contact: another hub's card, exported by a second agent (its own namespace and data dir).
      const b = startAgent('root', [
        '--data-dir',
        '/tmp/other',
        '--control-socket',
        '/tmp/other/control.sock',
        '--port',
        '7444',
        '--nickname',
        'Other',
      ]);
      await waitStatus(b, '/tmp/other/control.sock');
      await mustSh('peerhub --socket /tmp/other/control.sock contacts export-me > /tmp/other.contact');
      t.equal(await b.stop(), 0, 'second agent stops cleanly');
      await mustSh('peerhub contacts import /tmp/other.contact');
      const contacts = JSON.parse(await mustSh('peerhub contacts list --json')) as Array<{ id: string }>;
      t.equal(contacts.length, 1, 'one contact');
      contactId = contacts[0]?.id ?? '';

      t.ok(
        await until(() => /WATCHDOG=1[\s\S]*WATCHDOG=1/.test(notes), 20_000),
        'watchdog pings every WATCHDOG_USEC/2',
      );
      t.equal(await a.stop(), 0, 'SIGTERM: the agent stops with exit 0');
      t.ok(await until(() => notes.includes('STOPPING=1'), 20_000), 'STOPPING=1 sent');
      t.match(
        notes,
        /READY=1\|STATUS=ready: peer /,
        "READY=1 with a STATUS line, via trixie's systemd-notify",
      );
      t.notMatch(
        a.output(),
        /systemd notification failed|systemd-notify not found/,
        'every notification delivered',
      );
      t.match(a.output(), /"msg":"agent ready"/, 'logs on stdout (the journal under systemd)');
      rx.kill();
      agents.delete(rx);
      stateBefore = await stateDigest();
      t.ok(Object.keys(stateBefore).length >= 2, `state files: ${Object.keys(stateBefore).join(', ')}`);
    },
  );

  await t.test('upgrade to the new version: identity, contacts and the edited conffile kept', async (t) => {
    await mustSh('sed -i \'s/^# nickname = .*/nickname = "Upgraded Hub"/\' /etc/peerhub/peerhub.toml');
    const i = await c.exec(['dpkg', '-i', '/tmp/debs/new.deb'], { timeoutMs: 300_000 });
    t.equal(i.code, 0, `dpkg -i (upgrade) exits 0 ${i.stderr}`);
    t.equal((await c.exec(['dpkg-query', '-W', '-f', '${Version}', 'peerhub'])).stdout, NEW);
    t.same(await stateDigest(), stateBefore, '/var/lib/peerhub unchanged, byte for byte');
    t.match(
      await mustSh('cat /etc/peerhub/peerhub.toml'),
      /^nickname = "Upgraded Hub"$/m,
      'conffile edit kept',
    );
    t.equal((await mustSh('stat -c "%U:%G %a" /var/lib/peerhub')).trim(), 'peerhub:peerhub 700');
    await runtimeDir();
    const a = startAgent('peerhub', []);
    const s = await waitStatus(a, SOCKET);
    t.equal(s.id, peerId, 'same peer id');
    t.equal(s.version, NEW, 'the new version runs');
    t.equal(s.nickname, 'Upgraded Hub', 'with the edited config');
    const contacts = JSON.parse(await mustSh('peerhub contacts list --json')) as Array<{ id: string }>;
    t.same(
      contacts.map((x) => x.id),
      [contactId],
      'the contact is still there',
    );
    t.equal(await a.stop(), 0);
  });

  await t.test('purge: user, state, config and every packaged file gone', async (t) => {
    const listed = (await mustSh('dpkg -L peerhub')).split('\n').filter((l) => l.startsWith('/'));
    t.ok(listed.includes('/usr/bin/peerhub'));
    const p = await c.exec(['dpkg', '--purge', 'peerhub'], { timeoutMs: 300_000 });
    t.equal(p.code, 0, `dpkg --purge exits 0 ${p.stderr}`);
    t.not((await sh('getent passwd peerhub')).code, 0, 'user peerhub gone');
    t.not((await sh('getent group peerhub')).code, 0, 'group peerhub gone');
    t.notOk(existsSync(join(c.root, 'var/lib/peerhub')), '/var/lib/peerhub gone');
    t.notOk(existsSync(join(c.root, 'etc/peerhub')), '/etc/peerhub gone');
    const after = await snapshot(c);
    const leftovers = listed.filter((f) => after.has(f) && !before.has(f));
    t.same(leftovers, [], 'no file from dpkg -L is left');
    const added = [...after].filter((f) => !before.has(f) && !VOLATILE.test(f));
    t.same(added, [], 'the tree is as before the install (outside logs, caches, dpkg/apt state)');
  });
}
