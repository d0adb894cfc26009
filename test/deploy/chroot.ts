/**
 * A Debian trixie amd64 `--variant=minbase` chroot for the package tests, with Debian's nodejs, systemd,
 * adduser and udev installed from trixie. Built once with debootstrap (≈ 1–2 min) and cached as a
 * tarball under deploy/out/cache (gitignored), so later runs only unpack it (seconds).
 *
 * Mounts: /proc only (apt, dpkg, systemd-analyze); the chroot has debootstrap's own /dev nodes.
 * `destroy()` unmounts whatever is mounted below the root (lazily as a last resort) and removes the tree
 * only once nothing is mounted there any more.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SUITE = 'trixie';
export const MIRROR = 'http://deb.debian.org/debian';
export const PACKAGES = ['nodejs', 'systemd', 'adduser', 'udev'];
/** Bump when the recipe changes: a new cache key. */
const RECIPE = 1;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command (no shell), bounded in time; never throws for a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${opts.timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function mustRun(
  cmd: string,
  args: string[],
  opts: Parameters<typeof run>[2] = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-3000)}${r.stdout.slice(-1000)}`,
    );
  }
  return r.stdout;
}

/** Why these tests cannot run here, or null. */
export async function chrootSkipReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'needs root (debootstrap, chroot, mount, network namespaces)';
  if (process.arch !== 'x64') return `the test chroot is amd64; this machine is ${process.arch}`;
  for (const [tool, pkg] of [
    ['debootstrap', 'debootstrap'],
    ['dpkg-deb', 'dpkg'],
    ['unshare', 'util-linux'],
    ['ip', 'iproute2'],
    ['zstd', 'zstd'],
  ]) {
    const r = await run('sh', ['-c', `command -v ${tool}`]);
    if (r.code !== 0) return `${tool} not installed (apt-get install ${pkg})`;
  }
  return null;
}

export interface Chroot {
  readonly root: string;
  /** True when it came from the cached tarball. */
  readonly cached: boolean;
  readonly prepareMs: number;
  /** `chroot <root> args…` */
  exec(args: string[], opts?: Parameters<typeof run>[2]): Promise<RunResult>;
  destroy(): Promise<void>;
}

function mountsBelow(root: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  return lines
    .map((l) => l.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === root || p.startsWith(root + '/'))
    .sort((a, b) => b.length - a.length); // deepest first
}

async function unmountAll(root: string): Promise<string[]> {
  for (let pass = 0; pass < 3; pass++) {
    const mounts = mountsBelow(root);
    if (mounts.length === 0) return [];
    for (const m of mounts) {
      const r = await run('umount', [m], { timeoutMs: 20_000 });
      if (r.code !== 0 && pass === 2) await run('umount', ['-l', m], { timeoutMs: 20_000 });
    }
  }
  return mountsBelow(root);
}

export async function createChroot(cacheDir: string, log: (line: string) => void): Promise<Chroot> {
  const started = Date.now();
  const key = createHash('sha256')
    .update(JSON.stringify({ RECIPE, SUITE, MIRROR, arch: 'amd64', variant: 'minbase', PACKAGES }))
    .digest('hex')
    .slice(0, 12);
  const tarball = join(cacheDir, `${SUITE}-amd64-minbase-${key}.tar.zst`);
  const root = mkdtempSync(join(tmpdir(), 'peerhub-chroot-'));
  const cached = existsSync(tarball);

  const mountProc = async (): Promise<void> => {
    mkdirSync(join(root, 'proc'), { recursive: true });
    if (!mountsBelow(root).includes(join(root, 'proc'))) {
      await mustRun('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
    }
  };
  // `env -i` inside: nothing of the test runner's environment (tap's NODE_OPTIONS hooks) leaks in.
  const exec = (args: string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> => {
    const vars = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root', ...opts.env };
    const pairs = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
    return run('chroot', [root, 'env', '-i', ...pairs, ...args], { ...opts, env: process.env });
  };
  const destroy = async (): Promise<void> => {
    const left = await unmountAll(root);
    if (left.length > 0) {
      log(`chroot: still mounted, NOT removing ${root}: ${left.join(', ')}`);
      return;
    }
    rmSync(root, { recursive: true, force: true });
  };

  try {
    if (cached) {
      log(`chroot: unpacking ${tarball}`);
      await mustRun('tar', ['-C', root, '--numeric-owner', '-I', 'zstd', '-xpf', tarball], {
        timeoutMs: 300_000,
      });
    } else {
      log(`chroot: debootstrap ${SUITE} minbase (cache miss; about 1-2 minutes)`);
      await mustRun('debootstrap', ['--variant=minbase', '--arch=amd64', SUITE, root, MIRROR], {
        timeoutMs: 900_000,
      });
      await mountProc();
      const env = { DEBIAN_FRONTEND: 'noninteractive' };
      await mustRun('chroot', [root, 'apt-get', 'update', '-q'], {
        timeoutMs: 300_000,
        env: { ...process.env, ...env },
      });
      await mustRun(
        'chroot',
        [root, 'apt-get', 'install', '-y', '-q', '--no-install-recommends', ...PACKAGES],
        { timeoutMs: 900_000, env: { ...process.env, ...env } },
      );
      await mustRun('chroot', [root, 'apt-get', 'clean']);
      const left = await unmountAll(root);
      if (left.length > 0) throw new Error(`cannot unmount ${left.join(', ')}`);
      mkdirSync(cacheDir, { recursive: true });
      const tmp = `${tarball}.${process.pid}.tmp`;
      await mustRun('tar', ['-C', root, '--numeric-owner', '-I', 'zstd -T0 -3', '-cpf', tmp, '.'], {
        timeoutMs: 300_000,
      });
      renameSync(tmp, tarball);
    }
    chmodSync(root, 0o755); // mkdtemp made it 0700: the chroot's users must reach "/"
    await mountProc();
  } catch (e) {
    await destroy();
    throw e;
  }
  return { root, cached, prepareMs: Date.now() - started, exec, destroy };
}
