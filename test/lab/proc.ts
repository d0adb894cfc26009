/**
 * Process helpers for the LAN lab: bounded one-shot commands, long-running children whose output is
 * kept (with receive timestamps) for assertions and diagnostics, and a generous `waitFor`.
 * No sleeps-as-measurements: a stream records when each line arrived.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Parse stdout as JSON (throws with the raw output in the message). */
  json<T = unknown>(): T;
}

export interface RunOptions {
  timeoutMs?: number; // default 20 s; the child is SIGKILLed past it
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const MAX_OUTPUT = 4 * 1024 * 1024;

/** Run a command to completion, bounded in time and output; never rejects on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`spawn ${cmd}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        timedOut,
        json<T>(): T {
          try {
            return JSON.parse(stdout) as T;
          } catch (err) {
            throw new Error(
              `${cmd} ${args.join(' ')}: stdout is not JSON (code ${code}): ${stdout.slice(0, 500)} ${stderr.slice(0, 500)}`,
              { cause: err },
            );
          }
        },
      });
    });
  });
}

/** Synchronous variant for exit handlers and sweepers (bounded, output ignored on failure). */
export function runSync(
  cmd: string,
  args: readonly string[],
  timeoutMs = 10_000,
): { code: number | null; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout ?? '' };
}

/** Run and throw unless the exit code is 0. */
export async function must(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (code ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr.trim()}`,
    );
  }
  return r;
}

export interface WaitOptions {
  timeout?: number; // ms, default 20 s: correctness, not timing
  interval?: number; // ms between attempts, default 250
  message?: string;
}

/**
 * Poll `fn` until it returns a truthy value (returned) or the deadline passes (throws with the last
 * value or error). Attempts are bounded by the deadline; `fn` may be async and may throw.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeout = opts.timeout ?? 20_000;
  const interval = opts.interval ?? 250;
  const deadline = performance.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (performance.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, deadline - performance.now()))));
  }
  const detail = last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 1000);
  throw new Error(`${opts.message ?? 'condition'} not met within ${timeout} ms (last: ${detail})`);
}

export interface Stamped<T> {
  t: number; // performance.now() when the line arrived
  value: T;
}

export interface StreamOptions<T> {
  name: string;
  env?: NodeJS.ProcessEnv;
  /** Turn a stdout line into a record (undefined: not a record, kept as a log line only). */
  parse?: (line: string) => T | undefined;
  maxRecords?: number; // default 20,000 (oldest dropped)
  maxLogLines?: number; // default 400
  logFile?: string; // every output line is also appended here (full log for post-mortems)
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A long-running child: stdout lines parsed into timestamped records, all output kept (bounded) for
 * diagnostics, `waitForRecord` event-driven (no polling).
 */
export class Stream<T = string> {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly startedAt = performance.now();
  readonly records: Stamped<T>[] = [];
  readonly exited: Promise<Exit>;
  private readonly logLines: string[] = [];
  private readonly bus = new EventEmitter();
  private exit: Exit | null = null;
  private readonly maxRecords: number;
  private readonly maxLogLines: number;
  private readonly file: WriteStream | null;

  constructor(cmd: string, args: readonly string[], opts: StreamOptions<T>) {
    this.name = opts.name;
    this.maxRecords = opts.maxRecords ?? 20_000;
    this.maxLogLines = opts.maxLogLines ?? 400;
    this.bus.setMaxListeners(100);
    this.file = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : null;
    this.file?.on('error', () => undefined);
    this.proc = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const parse = opts.parse ?? ((l: string) => l as unknown as T);
    this.exited = new Promise((resolve) => {
      this.proc.on('error', (err) => {
        this.log('!', `spawn error: ${err.message}`);
        this.exit = { code: null, signal: null };
        this.bus.emit('exit');
        resolve(this.exit);
      });
      this.proc.on('close', (code, signal) => {
        this.exit = { code, signal };
        this.file?.end();
        this.bus.emit('exit');
        resolve(this.exit);
      });
    });
    lines(this.proc.stdout, (line) => {
      const t = performance.now();
      this.log('>', line);
      let value: T | undefined;
      try {
        value = parse(line);
      } catch {
        value = undefined;
      }
      if (value === undefined) return;
      const rec = { t, value };
      this.records.push(rec);
      if (this.records.length > this.maxRecords) this.records.shift();
      this.bus.emit('record', rec);
    });
    lines(this.proc.stderr, (line) => this.log('!', line));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Call `fn` with each record from now on; returns the function that stops it. */
  onRecord(fn: (rec: Stamped<T>) => void): () => void {
    this.bus.on('record', fn);
    return () => void this.bus.off('record', fn);
  }

  /** Write a line to the child's stdin. */
  send(line: string): void {
    this.proc.stdin?.write(line + '\n');
  }

  /**
   * Resolve with the first record (arrived at or after `since`, a performance.now() time) matching
   * `pred`; reject at the deadline or when the child exits first.
   */
  waitForRecord(
    pred: (v: T) => boolean,
    opts: { timeout?: number; since?: number } = {},
  ): Promise<Stamped<T>> {
    return waitForStamped(this.records, this.bus, pred, opts, {
      endEvent: 'exit',
      ended: () => !this.running,
      endError: () =>
        new Error(`${this.name} exited (${JSON.stringify(this.exit)}) while waiting:\n${this.tail(20)}`),
      timeoutError: (ms) => new Error(`${this.name}: no matching record within ${ms} ms:\n${this.tail(20)}`),
    });
  }

  /**
   * Resolve with the first log line (stdout or stderr) matching `re`, bounded like waitForRecord.
   * `fresh`: only lines arriving from now on (call it in the same tick as the action that causes them).
   */
  waitForLine(re: RegExp, timeout = 20_000, fresh = false): Promise<string> {
    const hit = fresh ? undefined : this.logLines.find((l) => re.test(l));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.bus.off('line', onLine);
        this.bus.off('exit', onExit);
      };
      const onLine = (l: string): void => {
        if (re.test(l)) {
          cleanup();
          resolve(l);
        }
      };
      const onExit = (): void => {
        cleanup();
        reject(
          new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before ${re}:\n${this.tail(20)}`),
        );
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: no line ${re} within ${timeout} ms:\n${this.tail(20)}`));
      }, timeout);
      if (!this.running) return onExit();
      this.bus.on('line', onLine);
      this.bus.on('exit', onExit);
    });
  }

  /** Send `signal`, wait up to `graceMs`, then SIGKILL. Returns the exit and how long it took. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<Exit & { ms: number }> {
    const t0 = performance.now();
    if (this.running) {
      this.proc.kill(signal);
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    const e = await this.exited;
    return { ...e, ms: performance.now() - t0 };
  }

  /** The last `n` output lines, for failure messages. */
  tail(n = 40): string {
    return this.logLines
      .slice(-n)
      .map((l) => `  [${this.name}] ${l}`)
      .join('\n');
  }

  allLines(): readonly string[] {
    return this.logLines;
  }

  private log(kind: '>' | '!', line: string): void {
    const l = `${kind} ${line}`;
    this.logLines.push(l);
    this.file?.write(l + '\n');
    if (this.logLines.length > this.maxLogLines) this.logLines.shift();
    this.bus.emit('line', l);
  }
}

function lines(stream: NodeJS.ReadableStream | null, onLine: (l: string) => void): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    if (buf.length > 1 << 20) buf = '';
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
    buf = '';
  });
}

/** Percentile (nearest rank) of a list of numbers; NaN for an empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1] as number;
}

/** Resident set size of a process in kB (VmRSS from /proc), NaN if it is gone. */
export function rssKB(pid: number, key: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Clock ticks per second of /proc's CPU times. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time a process used so far, in ticks (utime + stime, fields 14 and 15 of /proc/<pid>/stat). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** cpuTicks, or 0 for a process that is gone (or not yet there). */
export function cpuTicksOr0(pid: number): number {
  try {
    return cpuTicks(pid);
  } catch {
    return 0;
  }
}

/** Ticks the whole machine was busy so far (all cores): /proc/stat's first line minus idle and iowait. */
export function machineBusyTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal
  return (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
}

/**
 * The first record stamped at or after `opts.since` matching `pred`: from those already kept, else the
 * next `record` event on `bus`; rejects at the deadline or on `end.endEvent` (event-driven, no polling).
 */
export function waitForStamped<T>(
  records: readonly Stamped<T>[],
  bus: EventEmitter,
  pred: (v: T) => boolean,
  opts: { timeout?: number; since?: number },
  end: { endEvent: string; ended: () => boolean; endError: () => Error; timeoutError: (ms: number) => Error },
): Promise<Stamped<T>> {
  const since = opts.since ?? 0;
  const timeout = opts.timeout ?? 20_000;
  const found = records.find((r) => r.t >= since && pred(r.value));
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      bus.off('record', onRecord);
      bus.off(end.endEvent, onEnd);
    };
    const onRecord = (rec: Stamped<T>): void => {
      if (rec.t >= since && pred(rec.value)) {
        cleanup();
        resolve(rec);
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(end.endError());
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(end.timeoutError(timeout));
    }, timeout);
    if (end.ended()) return onEnd();
    bus.on('record', onRecord);
    bus.on(end.endEvent, onEnd);
  });
}
