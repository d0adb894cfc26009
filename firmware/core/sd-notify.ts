/**
 * Tell systemd how the agent is doing (sd_notify protocol): READY=1 once started, STOPPING=1 on the way
 * out, WATCHDOG=1 every WATCHDOG_USEC/2, and a one-line STATUS=.
 *
 * Node has no AF_UNIX datagram sockets (and the agent ships no native addon), so each message is sent by
 * Debian's `systemd-notify` binary (package systemd), spawned as a child. Two consequences, handled here
 * and in the unit (deploy/systemd/peerhub.service):
 * - the sender is a child, not the main process: the unit needs `NotifyAccess=all`;
 * - systemd attributes a message to a unit through the sender's cgroup, which it can only read while the
 *   sender is alive. `systemd-notify` (systemd ≥ 246, so bookworm's 252 and trixie's 257) follows each
 *   message with a BARRIER=1 and waits until the manager has processed it, so the child is still alive
 *   when its message is read. We therefore never pass `--no-block`. We pass no `--pid=` either: by
 *   default it already names the parent (the agent, the unit's main PID), impersonating it only works
 *   with privileges the agent does not have (it then falls back to its own credentials), and an explicit
 *   `--pid=` would add a MAINPID= assignment we do not want.
 *
 * Messages go out one child at a time, in order; what is asked while a child runs is merged into the
 * next message. Without NOTIFY_SOCKET (not under systemd) nothing is ever spawned. A missing binary or a
 * failing send is logged once and never throws: the agent runs on without systemd's bookkeeping.
 */
import { spawn as spawnChild } from 'node:child_process';
import { systemClock, type Clock, type Timer } from './clock.js';
import type { Logger } from './logger.js';

/** Run `file args…`; call `done` once with the spawn error (ENOENT…) or the exit code and first stderr line. */
export type NotifySpawn = (
  file: string,
  args: string[],
  done: (err: Error | null, code: number | null, stderr: string) => void,
) => void;

export interface SdNotifyDeps {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** This process's pid (WATCHDOG_PID is honoured against it). */
  pid?: number;
  clock?: Clock;
  spawn?: NotifySpawn;
  /** The notifier binary (default: `systemd-notify` on PATH). */
  binary?: string;
}

export interface SdNotifier {
  /** NOTIFY_SOCKET is set: we run under systemd (or something speaking its protocol). */
  readonly enabled: boolean;
  /** Watchdog ping interval in ms (WATCHDOG_USEC/2), or null when no watchdog is asked of this process. */
  readonly watchdogIntervalMs: number | null;
  ready(status?: string): void;
  stopping(status?: string): void;
  status(text: string): void;
  /** Ping now and then every `watchdogIntervalMs` until `close()`. No-op without a watchdog. */
  startWatchdog(): void;
  /** Stop the watchdog; resolves when queued messages are sent (or after `maxMs`). */
  close(maxMs?: number): Promise<void>;
}

/** STATUS= is one short line: no control characters, at most 200 characters. */
export function statusLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}

/** sd_watchdog_enabled(3): WATCHDOG_USEC, and WATCHDOG_PID (when set) must be this process. */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^\d+$/.test(usec) || Number(usec) <= 0) return null;
  const wpid = env.WATCHDOG_PID;
  if (wpid !== undefined && wpid !== '' && Number(wpid) !== pid) return null;
  return Math.max(1, Math.floor(Number(usec) / 2000));
}

/** The real spawner: no shell, no stdin/stdout, the first stderr line kept for the log. */
export const spawnNotify: NotifySpawn = (file, args, done) => {
  let finished = false;
  const finish = (err: Error | null, code: number | null, stderr: string): void => {
    if (finished) return;
    finished = true;
    done(err, code, stderr);
  };
  let stderr = '';
  let child;
  try {
    child = spawnChild(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    finish(e as Error, null, '');
    return;
  }
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    if (stderr.length < 500) stderr += s;
  });
  child.once('error', (e) => finish(e, null, stderr));
  child.once('close', (code) => finish(null, code, stderr.split('\n')[0] ?? ''));
};

export function createSdNotifier(deps: SdNotifyDeps): SdNotifier {
  const env = deps.env ?? process.env;
  const pid = deps.pid ?? process.pid;
  const clock = deps.clock ?? systemClock;
  const spawn = deps.spawn ?? spawnNotify;
  const binary = deps.binary ?? 'systemd-notify';
  const log = deps.logger;
  const enabled = !!env.NOTIFY_SOCKET;
  const interval = enabled ? watchdogInterval(env, pid) : null;

  const pending = new Map<string, string>(); // VAR → value, in first-asked order
  let inFlight = false;
  let unavailable = false; // the binary is missing: stop trying
  let warnedFailure = false;
  let watchdog: Timer | null = null;
  let closed = false;
  const idle: Array<() => void> = [];

  const settle = (): void => {
    if (inFlight || pending.size > 0) return;
    for (const fn of idle.splice(0)) fn();
  };

  const pump = (): void => {
    if (inFlight || pending.size === 0) return settle();
    if (unavailable) {
      pending.clear();
      return settle();
    }
    const args = [...pending].map(([k, v]) => `${k}=${v}`);
    pending.clear();
    inFlight = true;
    spawn(binary, args, (err, code, stderr) => {
      inFlight = false;
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          unavailable = true;
          log.warn(
            { binary, err: err.message },
            'systemd-notify not found: systemd is not told about readiness or the watchdog',
          );
        } else if (!warnedFailure) {
          warnedFailure = true;
          log.warn({ binary, err: err.message }, 'systemd notification failed');
        }
      } else if (code !== 0 && !warnedFailure) {
        warnedFailure = true;
        log.warn({ binary, exitCode: code, err: stderr }, 'systemd notification failed');
      }
      pump();
    });
  };

  const send = (vars: Record<string, string>): void => {
    if (!enabled) return;
    for (const [k, v] of Object.entries(vars)) {
      pending.delete(k); // a later value of the same variable goes last
      pending.set(k, v);
    }
    pump();
  };

  const withStatus = (base: Record<string, string>, status?: string): Record<string, string> =>
    status === undefined ? base : { ...base, STATUS: statusLine(status) };

  const ping = (): void => {
    watchdog = null;
    if (closed || interval === null) return;
    send({ WATCHDOG: '1' });
    watchdog = clock.setTimer(interval, ping);
  };

  return {
    enabled,
    watchdogIntervalMs: interval,
    ready: (status) => send(withStatus({ READY: '1' }, status)),
    stopping: (status) => send(withStatus({ STOPPING: '1' }, status)),
    status: (text) => send({ STATUS: statusLine(text) }),
    startWatchdog() {
      if (interval === null || watchdog || closed) return;
      log.info({ intervalMs: interval }, 'systemd watchdog on');
      ping();
    },
    close(maxMs = 3000) {
      closed = true;
      watchdog?.cancel();
      watchdog = null;
      if (!inFlight && pending.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const t = clock.setTimer(maxMs, () => resolve());
        idle.push(() => {
          t.cancel();
          resolve();
        });
      });
    },
  };
}
