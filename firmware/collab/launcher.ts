/**
 * Launching a registered application when its invitation is accepted (DESIGN "The seed": launch info).
 *
 * The command runs without a shell, with its registered arguments verbatim, in its own process group,
 * with a minimal environment (PATH, HOME, LANG + PEERHUB_*). The launch info goes to it twice: as one
 * JSON document on stdin, and in a 0600 file (in a 0700 directory) named by $PEERHUB_LAUNCH_INFO,
 * removed once the process is done. A time limit ends the whole group (SIGTERM, then SIGKILL); output
 * is logged line by line; at most `maxConcurrent` applications run at once, the next ones wait.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock, type Timer } from '../core/clock.js';
import { PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  badRequest,
  checkArgs,
  checkBase64,
  checkCommand,
  checkObject,
  checkText,
  MAX_MESSAGE,
} from './apps-fields.js';
import type { Application, LaunchInfo, Launcher, LaunchResult } from './apps-types.js';
import { OutputSink } from './launcher-output.js';

export const LAUNCH_TIMEOUT_MS = 30_000;
export const KILL_GRACE_MS = 2_000;
export const MAX_CONCURRENT_LAUNCHES = 4;
export const MAX_QUEUED_LAUNCHES = 16;
export const OUTPUT_LOG_LIMIT = 64 * 1024;
export const OUTPUT_TAIL_CHARS = 4096;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LauncherDeps {
  logger: Logger;
  /** Time limit and durations; defaults to the system clock. */
  clock?: Clock;
}

export interface LauncherInit {
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL (also: how long to wait for output after the process exited). */
  killGraceMs?: number;
  maxConcurrent?: number;
  /** Launches waiting for a slot beyond this are refused. */
  maxQueued?: number;
  /** Bytes of output logged per stream; the rest is counted, not logged. */
  outputLimit?: number;
  /** Characters of each stream kept for the result. */
  tailChars?: number;
  /** Where the launch-info directories are made; defaults to os.tmpdir(). */
  tmpDir?: string;
  /** Working directory of the application; defaults to `/`. */
  cwd?: string;
  /** PATH, HOME and LANG for the application; default to the agent's own (or safe fallbacks). */
  env?: { PATH?: string; HOME?: string; LANG?: string };
}

type AppRef = Pick<Application, 'id' | 'command' | 'args'>;

function launchError(app: AppRef, problem: string, cause?: unknown): PeerhubError {
  return new PeerhubError('PH_ERR_APP_LAUNCH', `cannot launch application ${app.id}: ${problem}`, { cause });
}

export function checkLaunchInfo(x: unknown): LaunchInfo {
  const o = checkObject(x, 'launchInfo', ['inviter', 'message', 'data', 'sessionId', 'invitationId']);
  const inv = checkObject(o.inviter, 'inviter', ['peerId', 'nickname']);
  const id = (v: unknown, field: string): string => {
    const s = checkText(v, field, 128);
    if (!s) throw badRequest(field, 'must not be empty');
    return s;
  };
  return {
    inviter: {
      peerId: id(inv.peerId, 'inviter.peerId'),
      nickname: checkText(inv.nickname, 'inviter.nickname', 63),
    },
    message: checkText(o.message, 'message', MAX_MESSAGE, ''),
    data: checkBase64(o.data),
    sessionId: id(o.sessionId, 'sessionId'),
    invitationId: id(o.invitationId, 'invitationId'),
  };
}

/** Refuse early, with a message a person can act on, what exec would refuse with an errno. */
async function checkExecutable(app: AppRef): Promise<void> {
  let st;
  try {
    st = await stat(app.command);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw launchError(
      app,
      code === 'ENOENT' ? `${app.command} does not exist` : `${app.command}: ${code}`,
      e,
    );
  }
  if (!st.isFile()) throw launchError(app, `${app.command} is not a file`);
  try {
    await access(app.command, constants.X_OK);
  } catch (e) {
    throw launchError(app, `${app.command} is not executable`, e);
  }
}

interface Running {
  kill(): void;
  done: Promise<unknown>;
}

class ProcessLauncher implements Launcher {
  private readonly log: Logger;
  private readonly clock: Clock;
  private slots = 0;
  private readonly waiting: Array<{ go: () => void; fail: (e: Error) => void }> = [];
  private readonly running = new Set<Running>();
  private closed = false;

  constructor(
    deps: LauncherDeps,
    private readonly init: LauncherInit = {},
  ) {
    this.log = deps.logger.child({ component: 'launcher' });
    this.clock = deps.clock ?? systemClock;
  }

  get active(): number {
    return this.slots + this.waiting.length;
  }

  async launch(appIn: AppRef, infoIn: LaunchInfo): Promise<LaunchResult> {
    const app: AppRef = { id: appIn.id, command: checkCommand(appIn.command), args: checkArgs(appIn.args) };
    const info = checkLaunchInfo(infoIn);
    if (this.closed) throw launchError(app, 'the launcher is shutting down');
    await this.acquire(app);
    try {
      await checkExecutable(app);
      return await this.withInfoFile(app, info);
    } finally {
      this.release();
    }
  }

  private async acquire(app: AppRef): Promise<void> {
    if (this.slots < (this.init.maxConcurrent ?? MAX_CONCURRENT_LAUNCHES)) {
      this.slots++;
      return;
    }
    if (this.waiting.length >= (this.init.maxQueued ?? MAX_QUEUED_LAUNCHES)) {
      throw launchError(app, 'too many applications launching at once; try again later');
    }
    this.log.info({ app: app.id, waiting: this.waiting.length + 1 }, 'application waits for a launch slot');
    await new Promise<void>((go, fail) => this.waiting.push({ go, fail }));
  }

  /** Hands the slot to the next waiting launch, if any. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next.go();
    else this.slots--;
  }

  private async withInfoFile(app: AppRef, info: LaunchInfo): Promise<LaunchResult> {
    const dir = await mkdtemp(join(this.init.tmpDir ?? tmpdir(), 'peerhub-launch-'));
    try {
      const file = join(dir, 'launch-info.json');
      const doc = `${JSON.stringify({ applicationId: app.id, ...info })}\n`;
      await writeFile(file, doc, { mode: 0o600, flag: 'wx' });
      if (this.closed) throw launchError(app, 'the launcher is shutting down');
      return await this.run(app, info, doc, file);
    } finally {
      await rm(dir, { recursive: true, force: true }).catch((e: unknown) =>
        this.log.warn({ app: app.id, dir, err: (e as Error).message }, 'launch info not removed'),
      );
    }
  }

  private env(app: AppRef, info: LaunchInfo, file: string): NodeJS.ProcessEnv {
    const own = this.init.env ?? {};
    return {
      PATH: own.PATH ?? process.env.PATH ?? DEFAULT_PATH,
      HOME: own.HOME ?? process.env.HOME ?? '/',
      LANG: own.LANG ?? process.env.LANG ?? 'C.UTF-8',
      PEERHUB_LAUNCH_INFO: file,
      PEERHUB_APP_ID: app.id,
      PEERHUB_SESSION_ID: info.sessionId,
      PEERHUB_INVITATION_ID: info.invitationId,
    };
  }

  private run(app: AppRef, info: LaunchInfo, doc: string, file: string): Promise<LaunchResult> {
    const timeoutMs = this.init.timeoutMs ?? LAUNCH_TIMEOUT_MS;
    const graceMs = this.init.killGraceMs ?? KILL_GRACE_MS;
    const started = this.clock.now();
    const child = spawn(app.command, app.args, {
      cwd: this.init.cwd ?? '/',
      env: this.env(app, info, file),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group: the time limit ends the children too
      shell: false,
    });
    const fields = { app: app.id };
    const sink = (stream: 'stdout' | 'stderr'): OutputSink =>
      new OutputSink(
        this.log,
        { app: app.id, stream },
        this.init.outputLimit ?? OUTPUT_LOG_LIMIT,
        this.init.tailChars ?? OUTPUT_TAIL_CHARS,
      );
    const out = sink('stdout');
    const err = sink('stderr');
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', (e) =>
      this.log.debug({ ...fields, err: e.message }, 'application did not read stdin'),
    );

    const signalGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    let timedOut = false;
    let stopping = false;
    const timers: Timer[] = [];
    const terminate = (): void => {
      stopping = true;
      signalGroup('SIGTERM');
      timers.push(this.clock.setTimer(graceMs, () => signalGroup('SIGKILL')));
    };

    const done = new Promise<LaunchResult>((resolve, reject) => {
      let spawned = false;
      child.once('spawn', () => {
        spawned = true;
        this.log.info(
          { ...fields, pid: child.pid, command: app.command, args: app.args.length },
          'application launched',
        );
        child.stdin.end(doc);
        if (stopping) terminate(); // close() came before the process existed
        timers.push(
          this.clock.setTimer(timeoutMs, () => {
            timedOut = true;
            this.log.warn({ ...fields, timeoutMs }, 'application over its time limit: terminating');
            terminate();
          }),
        );
      });
      child.once('error', (e: NodeJS.ErrnoException) => {
        if (spawned) return void this.log.warn({ ...fields, err: e.message }, 'application process error');
        timers.forEach((t) => t.cancel());
        const hint = e.code === 'ENOENT' ? ' (the file or its #! interpreter is missing)' : '';
        reject(launchError(app, `${app.command} could not be executed: ${e.code ?? e.message}${hint}`, e));
      });
      // A child that left descendants holding its output open: stop waiting for them after the grace.
      child.once('exit', () => {
        timers.push(
          this.clock.setTimer(graceMs, () => {
            child.stdout.destroy();
            child.stderr.destroy();
          }),
        );
      });
      child.once('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
        timers.forEach((t) => t.cancel());
        if (!spawned) return;
        out.end();
        err.end();
        const result: LaunchResult = {
          exitCode,
          signal,
          timedOut,
          durationMs: this.clock.now() - started,
          stdoutTail: out.tail,
          stderrTail: err.tail,
        };
        const ok = exitCode === 0 && !timedOut;
        const summary = { ...fields, exitCode, signal, timedOut, durationMs: result.durationMs };
        if (ok) this.log.info(summary, 'application finished');
        else this.log.warn(summary, 'application failed');
        resolve(result);
      });
    });
    const handle: Running = { kill: terminate, done: done.catch(() => undefined) };
    this.running.add(handle);
    void handle.done.then(() => this.running.delete(handle));
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) {
      w.fail(
        new PeerhubError('PH_ERR_APP_LAUNCH', 'cannot launch application: the launcher is shutting down'),
      );
    }
    const all = [...this.running];
    for (const r of all) r.kill();
    await Promise.all(all.map((r) => r.done));
  }
}

export function createLauncher(deps: LauncherDeps, init: LauncherInit = {}): Launcher {
  return new ProcessLauncher(deps, init);
}
