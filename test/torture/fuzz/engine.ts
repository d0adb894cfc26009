/**
 * A small in-process fuzzing engine: seeded PRNG, havoc-style byte mutations (bit flips, interesting
 * values, chunk insert/delete/duplicate, splices, length-field arithmetic, dictionary tokens), optional
 * structure-aware generators, optional coverage guidance from V8's precise block coverage (the
 * inspector's Profiler, sampled every `coverEvery` inputs), per-input hang measurement and
 * delta-debugging minimisation of crashing inputs.
 *
 * A target's `run` returns normally for any input it accepts or refuses the documented way, and
 * throws (anything) for a crash: the target itself decides what its contract allows.
 */
import { createHash } from 'node:crypto';
import { Session } from 'node:inspector';

// ---- PRNG -----------------------------------------------------------------------------------

/** sfc32: fast, 128-bit state, good enough statistics for fuzzing; fully determined by the seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  bool(p = 0.5): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  float(): number {
    return this.u32() / 4294967296;
  }
}

// ---- mutations ----------------------------------------------------------------------------------

/** Values that break parsers: zero, all ones, sign edges, DNS compression-pointer and label-type bits. */
export const INTERESTING_8 = [0, 1, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xfe, 0xff, 0x20, 0x2e, 0x5c];
export const INTERESTING_16 = [
  0, 1, 0x00ff, 0x0100, 0x7fff, 0x8000, 0xc000, 0xc00c, 0xffff, 0xfffe, 0x3fff, 0x0200, 0x05dc,
];

export interface MutateContext {
  rng: Rng;
  corpus: readonly Buffer[];
  dictionary: readonly Buffer[];
  maxLen: number;
}

function randomChunk(rng: Rng, max: number): Buffer {
  const n = 1 + rng.int(Math.max(1, max));
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rng.bool(0.3) ? rng.pick(INTERESTING_8) : rng.int(256);
  return b;
}

/** One mutation step. Returns a new buffer (the input is never modified). */
export function mutateOnce(input: Buffer, cx: MutateContext): Buffer {
  const { rng } = cx;
  const len = input.length;
  const op = rng.int(len === 0 ? 3 : 14);
  const at = rng.int(len + 1);
  switch (op) {
    case 0: // insert random bytes
      return Buffer.concat([input.subarray(0, at), randomChunk(rng, 16), input.subarray(at)]);
    case 1: // insert a dictionary token
      if (cx.dictionary.length === 0) return mutateOnce(input, cx);
      return Buffer.concat([input.subarray(0, at), rng.pick(cx.dictionary), input.subarray(at)]);
    case 2: {
      // splice: our head + another corpus input's tail (or the whole other input when we are empty)
      const other = rng.pick(cx.corpus) ?? Buffer.alloc(0);
      const cut = rng.int(other.length + 1);
      return Buffer.concat([input.subarray(0, at), other.subarray(cut)]);
    }
    default:
      break;
  }
  const out = Buffer.from(input);
  const pos = rng.int(len);
  switch (op) {
    case 3: // flip one bit
      out[pos] = (out[pos] as number) ^ (1 << rng.int(8));
      return out;
    case 4: // interesting byte
      out[pos] = rng.pick(INTERESTING_8);
      return out;
    case 5: // random byte
      out[pos] = rng.int(256);
      return out;
    case 6: {
      // interesting 16-bit value, big or little endian (DNS counts, lengths, pointers)
      if (len < 2) return mutateOnce(input, cx);
      const p = rng.int(len - 1);
      const v = rng.pick(INTERESTING_16);
      if (rng.bool(0.8)) out.writeUInt16BE(v, p);
      else out.writeUInt16LE(v, p);
      return out;
    }
    case 7: {
      // length-field tweak: a byte or a 16-bit big-endian value ± a small delta
      const delta = (rng.int(17) - 8) | 0 || 1;
      if (len >= 2 && rng.bool()) {
        const p = rng.int(len - 1);
        out.writeUInt16BE((out.readUInt16BE(p) + delta) & 0xffff, p);
      } else out[pos] = ((out[pos] as number) + delta) & 0xff;
      return out;
    }
    case 8: {
      // delete a chunk
      const n = 1 + rng.int(Math.min(len - pos, rng.bool(0.8) ? 8 : len));
      return Buffer.concat([input.subarray(0, pos), input.subarray(pos + n)]);
    }
    case 9: {
      // duplicate a chunk somewhere
      const n = 1 + rng.int(Math.min(len - pos, 32));
      const chunk = input.subarray(pos, pos + n);
      return Buffer.concat([input.subarray(0, at), chunk, input.subarray(at)]);
    }
    case 10: {
      // overwrite with a chunk copied from elsewhere in the input
      const n = 1 + rng.int(Math.min(len, 16));
      const src = rng.int(len - n + 1);
      input.copy(out, pos, src, src + Math.min(n, len - pos));
      return out;
    }
    case 11: {
      // overwrite with a dictionary token
      if (cx.dictionary.length === 0) return mutateOnce(input, cx);
      const tok = rng.pick(cx.dictionary);
      tok.copy(out, pos, 0, Math.min(tok.length, len - pos));
      return out;
    }
    case 12: // truncate
      return input.subarray(0, pos);
    default: {
      // repeat a byte (long runs: deep nesting, long labels)
      const n = 1 + rng.int(rng.bool(0.9) ? 16 : 512);
      return Buffer.concat([
        input.subarray(0, pos),
        Buffer.alloc(n, input[pos] as number),
        input.subarray(pos),
      ]);
    }
  }
}

/** Havoc: 1, 2, 4 … 16 stacked mutations, capped at `maxLen` bytes. */
export function mutate(input: Buffer, cx: MutateContext): Buffer {
  const n = 1 << cx.rng.int(5);
  let b = input;
  for (let i = 0; i < n; i++) b = mutateOnce(b, cx);
  return b.length > cx.maxLen ? b.subarray(0, cx.maxLen) : b;
}

// ---- coverage -----------------------------------------------------------------------------------

/**
 * V8 precise binary block coverage through an in-process inspector session, sampled with `take()`:
 * the blocks (of scripts whose URL contains one of `filters`) run since the previous take. V8 reports a
 * function's blocks only where their count differs from the enclosing range's, so a block is known from
 * the first time it was reported (usually as not run) and counts as covered in a later take when the
 * innermost range around it says so. Never use it under a process that collects coverage itself
 * (NODE_V8_COVERAGE, as tap does): each take resets the counters that process would report.
 */
export class Coverage {
  private readonly session = new Session();
  /** Covered functions (`url@start`) and blocks (`url@start-end`). */
  readonly seen = new Set<string>();
  private readonly blocks = new Map<string, Array<[number, number]>>();
  constructor(private readonly filters: readonly string[]) {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: false, detailed: true });
    this.commit(this.take());
  }
  static usable(): boolean {
    return !process.env.NODE_V8_COVERAGE;
  }
  private post(method: string, params?: object): unknown {
    let out: unknown;
    let error: Error | null = null;
    // The same-thread session answers synchronously.
    this.session.post(method, params, (err, res) => {
      error = err;
      out = res;
    });
    if (error) throw error;
    return out;
  }
  /** Functions and blocks covered since the last take and never covered before (not yet recorded). */
  take(): Set<string> {
    type Range = { startOffset: number; endOffset: number; count: number };
    const res = this.post('Profiler.takePreciseCoverage') as {
      result: Array<{ url: string; functions: Array<{ ranges: Range[] }> }>;
    };
    const fresh = new Set<string>();
    const add = (k: string): void => void (this.seen.has(k) || fresh.add(k));
    for (const script of res.result) {
      if (!this.filters.some((f) => script.url.includes(f))) continue;
      for (const fn of script.functions) {
        const [whole, ...inner] = fn.ranges;
        if (!whole || whole.count === 0) continue;
        const fnKey = `${script.url}@${whole.startOffset}`;
        add(fnKey);
        let known = this.blocks.get(fnKey);
        if (!known) this.blocks.set(fnKey, (known = []));
        const reported = new Set<string>();
        for (const r of inner) {
          const k = `${r.startOffset}-${r.endOffset}`;
          reported.add(k);
          if (!known.some(([a, b]) => a === r.startOffset && b === r.endOffset))
            known.push([r.startOffset, r.endOffset]);
          if (r.count > 0) add(`${fnKey}-${k}`);
        }
        for (const [a, b] of known) {
          if (reported.has(`${a}-${b}`)) continue;
          // Not reported: it ran as often as the innermost reported range around it.
          let around: Range = whole;
          for (const r of inner) {
            if (
              r.startOffset <= a &&
              r.endOffset >= b &&
              r.endOffset - r.startOffset < around.endOffset - around.startOffset
            )
              around = r;
          }
          if (around.count > 0) add(`${fnKey}-${a}-${b}`);
        }
      }
    }
    return fresh;
  }
  commit(keys: Iterable<string>): void {
    for (const k of keys) this.seen.add(k);
  }
  close(): void {
    try {
      this.post('Profiler.stopPreciseCoverage');
      this.post('Profiler.disable');
    } finally {
      this.session.disconnect();
    }
  }
}

// ---- targets and results ------------------------------------------------------------------------

export interface FuzzTarget {
  name: string; // directory name under corpus/, e.g. "mdns-decoder"
  title: string; // row name in the report
  /** What pass means for this target (the report's detail column). */
  contract: string;
  /** Valid inputs built by the project's own code. */
  seeds(): Buffer[] | Promise<Buffer[]>;
  dictionary?: Buffer[];
  /** Structure-aware generator: a fresh input built with the project's encoders. */
  generate?(rng: Rng): Buffer;
  maxLen: number;
  /** Script URL fragments whose blocks count as coverage. */
  cover: string[];
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** Return for accepted or properly refused input; throw for a crash (a broken contract). */
  run(input: Buffer): void | Promise<void>;
  /** Periodic whole-state check (e.g. "still answers a valid query"); throws when broken. */
  check?(): void | Promise<void>;
}

export interface Finding {
  kind: 'crash' | 'hang';
  signature: string;
  error: string;
  input: Buffer;
  minimized: Buffer;
  ms: number;
}

export interface FuzzOptions {
  inputs: number;
  seed: number;
  guided: boolean;
  coverEvery?: number; // inputs between coverage samples (default 256)
  hangMs?: number; // an input taking longer is a hang (default 1000)
  checkEvery?: number; // inputs between target.check() calls (default 1000)
  generateRatio?: number; // share of inputs from target.generate (default 0.1)
  maxFindings?: number; // distinct findings before stopping early (default 10)
  minimizeMs?: number; // time budget per minimisation (default 20 s)
  maxMs?: number; // stop after this long even if fewer inputs ran (the result says so)
  /** Called with every input before it runs (the worker's watchdog copies it). */
  onInput?(input: Buffer): void;
  onProgress?(p: { inputs: number; corpus: number; coverage: number; findings: number }): void;
  progressEvery?: number;
}

export interface FuzzResult {
  target: string;
  inputs: number;
  execs: number; // inputs + coverage replays + minimisation runs
  ms: number;
  inputsPerS: number;
  crashes: number; // crashing inputs (all, not distinct)
  hangs: number;
  /** Inputs over the hang limit once whose two re-runs were both in time: the machine stalled, not the input. */
  stalls: number;
  findings: Finding[]; // distinct by signature, minimised
  seeds: number;
  corpus: number;
  coverage: number | null; // covered blocks (guided runs)
  guided: boolean;
  stoppedBy: 'inputs' | 'findings' | 'time';
}

/** A stable name for a failure: error class, message without numbers, first stack frame. */
export function signature(err: unknown): string {
  if (!(err instanceof Error)) return `non-error: ${String(err).slice(0, 80)}`;
  const msg = (err.message.split('\n')[0] ?? '').replace(/\d+/g, 'N').slice(0, 120);
  const frame = (err.stack ?? '')
    .split('\n')
    .slice(1)
    .find((l) => l.includes('/'))
    ?.trim()
    .replace(/^at /, '')
    .replace(/:\d+\)?$/, '');
  return `${err.name}: ${msg}${frame ? ` @ ${frame.replace(/^.*\/(firmware|test|node_modules)\//, '$1/')}` : ''}`;
}

export const hashOf = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

const isThenable = (x: unknown): x is Promise<void> =>
  typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';

class HangError extends Error {
  override name = 'Hang';
}

/** Run one input; returns the failure (or null) and the elapsed milliseconds. */
async function execute(
  target: FuzzTarget,
  input: Buffer,
  hangMs: number,
): Promise<{ err: unknown; ms: number; failed: boolean }> {
  const t0 = performance.now();
  try {
    const r = target.run(input);
    if (isThenable(r)) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new HangError(`no answer within ${hangMs * 5} ms`)), hangMs * 5);
      });
      try {
        await Promise.race([r, deadline]);
      } finally {
        clearTimeout(timer);
      }
    }
    return { err: null, ms: performance.now() - t0, failed: false };
  } catch (err) {
    return { err, ms: performance.now() - t0, failed: true };
  }
}

/**
 * Delta debugging (ddmin-style chunk removal, then byte simplification) while `still(candidate)` holds.
 * Bounded by time; returns the smallest input found.
 */
export async function minimize(
  input: Buffer,
  still: (b: Buffer) => Promise<boolean>,
  budgetMs = 20_000,
): Promise<Buffer> {
  const end = Date.now() + budgetMs;
  let best = input;
  for (let chunk = Math.max(1, best.length >> 1); chunk >= 1 && Date.now() < end;) {
    let removed = false;
    for (let at = 0; at < best.length && Date.now() < end;) {
      const cand = Buffer.concat([best.subarray(0, at), best.subarray(at + chunk)]);
      if (cand.length < best.length && (await still(cand))) {
        best = cand;
        removed = true;
      } else at += chunk;
    }
    if (!removed) chunk >>= 1;
  }
  return best;
}

/** Fuzz one target (setup/teardown included). */
export async function fuzz(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzResult> {
  const hangMs = opts.hangMs ?? 1000;
  const coverEvery = opts.coverEvery ?? 256;
  const checkEvery = opts.checkEvery ?? 1000;
  const generateRatio = target.generate ? (opts.generateRatio ?? 0.1) : 0;
  const maxFindings = opts.maxFindings ?? 10;
  const rng = new Rng(opts.seed);
  await target.setup?.();
  const coverage = opts.guided && Coverage.usable() ? new Coverage(target.cover) : null;
  const seeds = await target.seeds();
  const corpus: Buffer[] = seeds.length > 0 ? [...seeds] : [Buffer.alloc(0)];
  const cx: MutateContext = { rng, corpus, dictionary: target.dictionary ?? [], maxLen: target.maxLen };
  const findings = new Map<string, Finding>();
  let crashes = 0;
  let hangs = 0;
  let execs = 0;
  const batch: Buffer[] = [];
  const t0 = performance.now();

  const record = async (
    kind: Finding['kind'],
    err: unknown,
    input: Buffer,
    ms: number,
    minimizable = true,
  ): Promise<void> => {
    if (kind === 'crash') crashes++;
    else hangs++;
    const sig = kind === 'hang' ? `hang: ${target.name}` : signature(err);
    if (findings.has(sig)) return;
    const still = async (b: Buffer): Promise<boolean> => {
      execs++;
      const r = await execute(target, b, hangMs);
      return kind === 'hang' ? r.ms > hangMs : r.failed && signature(r.err) === sig;
    };
    const minimized = minimizable ? await minimize(input, still, opts.minimizeMs ?? 20_000) : input;
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    findings.set(sig, { kind, signature: sig, error, input, minimized, ms });
  };

  let stalls = 0;
  /**
   * A slow input is a hang only if it is slow again: on a loaded machine one input can wait a second
   * for the CPU (another process, a GC, a coverage sample). Two re-runs both in time: not a hang.
   */
  const inTime = async (input: Buffer): Promise<boolean> => {
    for (let k = 0; k < 2; k++) {
      execs++;
      const again = await execute(target, input, hangMs);
      if (again.ms > hangMs || again.err instanceof HangError) return false;
    }
    return true;
  };

  // The seeds themselves must pass: a seed that fails is a finding too.
  for (const s of seeds) {
    execs++;
    opts.onInput?.(s);
    const r = await execute(target, s, hangMs);
    if (r.failed) await record('crash', r.err, s, r.ms);
    else if (r.ms > hangMs) await record('hang', null, s, r.ms);
  }
  coverage?.commit(coverage.take());

  const stopAt = opts.maxMs === undefined ? Infinity : performance.now() + opts.maxMs;
  let outOfTime = false;
  let i = 0;
  for (; i < opts.inputs && findings.size < maxFindings; i++) {
    if ((i & 63) === 0 && performance.now() > stopAt) {
      outOfTime = true;
      break;
    }
    const input =
      generateRatio > 0 && rng.bool(generateRatio)
        ? (target.generate as (r: Rng) => Buffer)(rng)
        : mutate(rng.pick(corpus), cx);
    execs++;
    opts.onInput?.(input);
    const r = await execute(target, input, hangMs);
    const hung = r.err instanceof HangError;
    if (r.failed && !hung) await record('crash', r.err, input, r.ms);
    else if (hung || r.ms > hangMs) {
      if (await inTime(input)) stalls++;
      else await record('hang', r.err, input, r.ms);
    }
    if (coverage) {
      batch.push(input);
      if (batch.length >= coverEvery) {
        const fresh = coverage.take();
        if (fresh.size > 0) {
          // Something in this batch reached new blocks: replay each input alone to find which.
          for (const b of batch) {
            execs++;
            await execute(target, b, hangMs);
            const mine = coverage.take();
            if ([...mine].some((k) => fresh.has(k))) {
              corpus.push(b);
              coverage.commit(mine);
            }
          }
          coverage.commit(fresh);
        }
        batch.length = 0;
      }
    }
    if (target.check && (i + 1) % checkEvery === 0) {
      try {
        await target.check();
      } catch (err) {
        await record('crash', err, input, 0, false);
      }
    }
    if (opts.onProgress && (i + 1) % (opts.progressEvery ?? 10_000) === 0) {
      opts.onProgress({
        inputs: i + 1,
        corpus: corpus.length,
        coverage: coverage?.seen.size ?? 0,
        findings: findings.size,
      });
    }
  }
  if (target.check) {
    try {
      await target.check();
    } catch (err) {
      await record('crash', err, Buffer.alloc(0), 0, false);
    }
  }
  const ms = performance.now() - t0;
  const covered = coverage ? coverage.seen.size : null;
  coverage?.close();
  await target.teardown?.();
  return {
    target: target.name,
    inputs: i,
    execs,
    ms,
    inputsPerS: Math.round((i / ms) * 1000),
    crashes,
    hangs,
    stalls,
    findings: [...findings.values()],
    seeds: seeds.length,
    corpus: corpus.length,
    coverage: covered,
    guided: coverage !== null,
    stoppedBy: outOfTime ? 'time' : i < opts.inputs ? 'findings' : 'inputs',
  };
}
