/**
 * Apply the first-boot file: read it from the boot partition, plan against the target root, run every
 * action (a failure is recorded, the others still run), then retire the boot file with its secrets
 * removed and leave a result file. The root and the command runner are injected.
 */
import { execFile } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../core/logger.js';
import { parseFirstBoot, secretValues } from './parse.js';
import { PATHS, lookupUser, planFirstBoot } from './plan.js';
import { redact } from './redact.js';
import { DEFAULT_RESULT_PATH } from './result.js';
import type { Action, FirstBootResult, FirstBootSettings, Snapshot } from './types.js';

export { readFirstBootResult } from './result.js';

export const BOOT_FILE = 'peerhub.toml';
export const APPLIED_FILE = 'peerhub-applied.toml';
export const INVALID_FILE = 'peerhub-invalid.toml';

/** Runs one command; rejects with one line on failure or time-out. */
export type Runner = (argv: string[]) => Promise<void>;

export const execRunner: Runner = (argv) =>
  new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 20_000 }, (err, _stdout, stderr) => {
      if (!err) resolve();
      else reject(new Error(`${argv.join(' ')}: ${String(stderr).trim().split('\n')[0] || err.message}`));
    });
  });

/** Changes a path's owner (default `fs.chown`; tests that are not root record instead). */
export type Chown = (path: string, uid: number, gid: number) => Promise<void>;

export interface ApplyDeps {
  logger: Logger;
  run: Runner;
  now?: () => Date;
  chown?: Chown;
}

export interface ApplyInit {
  /** Where the FAT partition is mounted (`/boot/firmware`). */
  bootDir: string;
  /** Root of the system to configure (`/`; a directory in tests or image builds). */
  root: string;
  /** Default `<root>/var/lib/peerhub-firstboot/result.json`. */
  resultPath?: string;
  /** Whose authorized_keys receive the keys (default `admin`). */
  user?: string;
  /** Change the running system too (default: root is `/`). */
  live?: boolean;
}

export interface ApplyOutcome {
  /** nothing = no file; finished = a retired copy left by an interrupted run was cleaned up. */
  status: 'nothing' | 'applied' | 'invalid' | 'finished';
  /** 1 when the file did not parse, or had errors and nothing at all could be applied. */
  exitCode: 0 | 1;
  result?: FirstBootResult;
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write to a temporary name, fsync, set mode/owner, rename over `path`, fsync the directory. */
async function writeAtomic(
  path: string,
  content: string,
  own?: { mode: number; uid?: number; gid?: number },
  chown: Chown = fsp.chown,
): Promise<void> {
  const tmp = `${path}.firstboot-tmp`;
  const fh = await fsp.open(tmp, 'w', own?.mode ?? 0o644);
  try {
    await fh.writeFile(content);
    if (own) await fh.chmod(own.mode); // the umask applied at creation
    if (own?.uid !== undefined) await chown(tmp, own.uid, own.gid ?? own.uid);
    await fh.sync(); // content, mode and owner on disk before the rename
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** Does `<root>/usr/share/zoneinfo/<tz>` hold a compiled zone (TZif)? */
export function zoneExists(root: string): (tz: string) => boolean {
  return (tz) => {
    let fd: number | undefined;
    try {
      fd = openSync(join(root, PATHS.zoneinfo, tz), 'r');
      const magic = Buffer.alloc(4);
      return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === 'TZif';
    } catch {
      return false;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
}

/** Read what the plan edits; a file that exists but cannot be read keeps its fields from being applied. */
async function readSnapshot(
  root: string,
  s: FirstBootSettings,
  user: string,
): Promise<{ snap: Snapshot; errors: string[]; skip: Set<keyof FirstBootSettings> }> {
  const snap: Snapshot = {};
  const errors: string[] = [];
  const skip = new Set<keyof FirstBootSettings>();
  const read = async (keys: Array<keyof FirstBootSettings>, path: string): Promise<string | undefined> => {
    try {
      return await readIfPresent(join(root, path));
    } catch (e) {
      for (const k of keys) {
        if (s[k] === undefined) continue;
        skip.add(k);
        errors.push(`${k}: cannot read ${path}: ${message(e)}; not applied`);
      }
      return undefined;
    }
  };
  if (s.hostname !== undefined) snap.hosts = await read(['hostname'], PATHS.hosts);
  if (s.nickname !== undefined || s.classifier !== undefined) {
    const text = await read(['nickname', 'classifier'], PATHS.peerhubToml);
    if (text !== undefined) {
      const st = await fsp.stat(join(root, PATHS.peerhubToml));
      snap.peerhubToml = { text, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    }
  }
  if (s.ssh) {
    snap.passwd = await read(['ssh'], PATHS.passwd);
    const u = lookupUser(snap.passwd, user);
    if (u) snap.authorizedKeys = await read(['ssh'], `${u.home.replace(/\/+$/, '')}/.ssh/authorized_keys`);
  }
  return { snap, errors, skip };
}

async function runAction(a: Action, root: string, run: Runner, chown: Chown): Promise<void> {
  if (a.kind === 'run') return run(a.argv);
  const p = join(root, a.path);
  if (a.kind === 'mkdir') {
    await fsp.mkdir(p, { recursive: true, mode: a.mode });
    await fsp.chmod(p, a.mode);
    if (a.uid !== undefined) await chown(p, a.uid, a.gid ?? a.uid);
  } else if (a.kind === 'write') {
    await fsp.mkdir(dirname(p), { recursive: true, mode: 0o755 });
    await writeAtomic(p, a.content, a, chown);
  } else if (a.kind === 'remove') {
    await fsp.rm(p, { force: true });
    await fsyncDir(dirname(p)).catch(() => undefined); // the folder may not exist: nothing to remove
  } else {
    const tmp = `${p}.firstboot-tmp`;
    await fsp.rm(tmp, { force: true });
    await fsp.symlink(a.target, tmp);
    await fsp.rename(tmp, p);
    await fsyncDir(dirname(p));
  }
}

/**
 * Replace the boot file by its redacted copy: write `<dest>` (durably), overwrite the original's
 * bytes in place (on FAT the same clusters: the secret is not left in free space), then remove it.
 */
async function retire(bootDir: string, original: string, redacted: string, dest: string): Promise<void> {
  const from = join(bootDir, BOOT_FILE);
  await writeAtomic(join(bootDir, dest), redacted); // no chmod/chown: FAT has neither
  const size = Buffer.byteLength(original);
  const body = Buffer.from(redacted);
  const scrub = Buffer.alloc(Math.max(size, body.length), 0x20);
  body.copy(scrub);
  const fh = await fsp.open(from, 'r+');
  try {
    await fh.write(scrub, 0, scrub.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.unlink(from);
  await fsyncDir(bootDir);
}

export async function applyFirstBoot(deps: ApplyDeps, init: ApplyInit): Promise<ApplyOutcome> {
  const log = deps.logger.child({ component: 'firstboot' });
  const at = (deps.now ?? (() => new Date()))().toISOString();
  const bootPath = join(init.bootDir, BOOT_FILE);
  const resultPath = init.resultPath ?? join(init.root, DEFAULT_RESULT_PATH);
  const user = init.user ?? 'admin';

  let text: string | undefined;
  try {
    text = await readIfPresent(bootPath);
  } catch (e) {
    log.error({ file: bootPath, err: message(e) }, 'cannot read the first-boot file');
    const result: FirstBootResult = {
      at,
      outcome: 'invalid',
      bootFile: bootPath,
      applied: [],
      errors: [`${BOOT_FILE}: cannot read ${bootPath}: ${message(e)}; nothing applied`],
      warnings: [],
    };
    await writeResult(resultPath, result, log);
    return { status: 'invalid', exitCode: 1, result };
  }
  if (text === undefined) {
    log.info({ file: bootPath }, 'no first-boot file: nothing to do');
    return { status: 'nothing', exitCode: 0 };
  }

  // A run interrupted between writing the redacted copy and removing the original leaves that copy as
  // peerhub.toml (scrubbed in place, padded): finish the move, apply nothing.
  for (const done of [APPLIED_FILE, INVALID_FILE]) {
    const copy = await readIfPresent(join(init.bootDir, done)).catch(() => undefined);
    if (copy !== undefined && copy.trim() === text.trim()) {
      await fsp.unlink(bootPath);
      await fsyncDir(init.bootDir);
      log.info({ file: bootPath, copy: done }, 'first-boot file already applied: removed the leftover');
      return { status: 'finished', exitCode: 0 };
    }
  }

  log.info({ file: bootPath }, 'first-boot file found');
  const parsed = parseFirstBoot(text, { file: BOOT_FILE, zoneExists: zoneExists(init.root) });
  const errors = [...parsed.errors];
  const warnings = [...parsed.warnings];
  for (const w of parsed.warnings) log.warn({ problem: w }, 'first-boot file warning');
  for (const e of parsed.errors) log.error({ problem: e }, 'first-boot file error');
  const applied: string[] = [];

  if (parsed.parsed) {
    const { snap, errors: readErrors, skip } = await readSnapshot(init.root, parsed.settings, user);
    const settings: FirstBootSettings = { ...parsed.settings };
    for (const k of skip) delete settings[k];
    const plan = planFirstBoot(settings, snap, { user, live: init.live ?? init.root === '/' });
    for (const e of [...readErrors, ...plan.errors]) {
      errors.push(e);
      log.error({ problem: e }, 'first-boot setting not applied');
    }
    for (const a of plan.actions) {
      try {
        await runAction(a, init.root, deps.run, deps.chown ?? fsp.chown);
        applied.push(a.what);
        log.info({ action: a.kind, what: a.what }, 'applied');
      } catch (e) {
        const line = `${a.what}: failed: ${message(e)}`;
        errors.push(line);
        log.error({ action: a.kind, what: a.what, err: message(e) }, 'action failed');
      }
    }
  }

  const dest = parsed.parsed ? APPLIED_FILE : INVALID_FILE;
  const header = parsed.parsed
    ? [
        `peerhub firstboot applied this file on ${at}; secrets were removed.`,
        `Problems (if any): ${DEFAULT_RESULT_PATH}, \`peerhub doctor\`, \`journalctl -u peerhub-firstboot\`.`,
        `To apply settings again, save an edited copy as ${BOOT_FILE} (with the passphrase).`,
      ]
    : [
        `peerhub firstboot could NOT read this file on ${at}: nothing was applied.`,
        parsed.errors[0] ?? '',
        `Lines that could hold a secret were removed. Fix it and save it as ${BOOT_FILE} to try again.`,
      ];
  try {
    const redacted = redact(text, { at, header, secrets: secretValues(text) });
    await retire(init.bootDir, text, redacted, dest);
    log.info({ from: BOOT_FILE, to: dest }, 'first-boot file retired, secrets removed');
  } catch (e) {
    const line = `${BOOT_FILE}: could not be renamed to ${dest} (secrets may remain on the boot partition): ${message(e)}`;
    errors.push(line);
    log.error({ file: bootPath, err: message(e) }, 'first-boot file not retired');
  }

  const result: FirstBootResult = {
    at,
    outcome: parsed.parsed ? 'applied' : 'invalid',
    bootFile: join(init.bootDir, dest),
    applied,
    errors,
    warnings,
  };
  await writeResult(resultPath, result, log);
  const exitCode = !parsed.parsed || (errors.length > 0 && applied.length === 0) ? 1 : 0;
  log.info(
    { applied: applied.length, errors: errors.length, warnings: warnings.length, result: resultPath },
    errors.length ? 'first boot done, with errors' : 'first boot done',
  );
  return { status: parsed.parsed ? 'applied' : 'invalid', exitCode, result };
}

async function writeResult(path: string, result: FirstBootResult, log: Logger): Promise<void> {
  try {
    await fsp.mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await writeAtomic(path, JSON.stringify(result, null, 2) + '\n', { mode: 0o644 });
  } catch (e) {
    log.error({ file: path, err: message(e) }, 'cannot write the first-boot result');
  }
}
