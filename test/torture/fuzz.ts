/**
 * The fuzz part of `npm run torture`: every target of fuzz/targets for a fixed number of inputs (20,000
 * bounded, 1,000,000 with --long), each in its own worker thread with a watchdog; findings are
 * minimised and saved under test/torture/fuzz/corpus/<target>/ (replayed by fuzz-regress.test.ts).
 * Part options (after `--`): --fuzz-inputs N, --fuzz-targets a,b, --fuzz-unguided, --fuzz-jobs N (targets
 * fuzzed at once, default 1), --fuzz-max-s S (time cap per target: the row says when it stopped a run).
 * A run of some targets (--fuzz-targets) keeps the other targets' rows of docs/torture/fuzz.json, each
 * saying which run it comes from, so the long run can be made target by target.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { saveFinding } from './fuzz/corpus.js';
import type { Finding, FuzzResult } from './fuzz/engine.js';
import { repoRoot } from './fuzz/targets/files.js';
import { TARGETS } from './fuzz/targets/index.js';
import type { TortureOptions, TorturePart, TortureReport, TortureRow } from './types.js';

const WATCHDOG_MS = 60_000; // no new input for this long: the current one never returned
const SHARED_BYTES = 128 * 1024;
/** Relative cost per input (measured): scheduling order for --fuzz-jobs. */
const SLOW: Record<string, number> = { 'peer-api': 10, 'mdns-receive': 5, config: 2, 'contact-xml': 2 };

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

interface Outcome {
  result: FuzzResult | null;
  killed: Finding | null;
  error: string | null;
}

function runWorker(
  target: string,
  opts: { inputs: number; seed: number; guided: boolean; maxMs?: number },
  log: (l: string) => void,
): Promise<Outcome> {
  const shared = new SharedArrayBuffer(8 + SHARED_BYTES);
  const head = new Int32Array(shared, 0, 2);
  const worker = new Worker(new URL('./fuzz/worker.js', import.meta.url), {
    workerData: {
      target,
      shared,
      opts: { ...opts, coverEvery: 1024, progressEvery: opts.inputs >= 200_000 ? 100_000 : 10_000 },
    },
  });
  return new Promise((resolve) => {
    let last = -1;
    let lastAt = Date.now();
    let settled = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      resolve(o);
    };
    const watch = setInterval(() => {
      const n = Atomics.load(head, 0);
      if (n !== last) {
        last = n;
        lastAt = Date.now();
        return;
      }
      if (Date.now() - lastAt < WATCHDOG_MS) return;
      const len = Atomics.load(head, 1);
      const input = Buffer.from(new Uint8Array(shared, 8, len));
      log(`fuzz ${target}: input ${n} has not returned for ${WATCHDOG_MS / 1000} s: stopping the worker`);
      void worker.terminate();
      finish({
        result: null,
        killed: {
          kind: 'hang',
          signature: `hang: ${target} (worker stopped)`,
          error: `no return within ${WATCHDOG_MS} ms`,
          input,
          minimized: input,
          ms: WATCHDOG_MS,
        },
        error: null,
      });
    }, 1000);
    worker.on('message', (m: { type: string } & Record<string, unknown>) => {
      if (m.type === 'progress') {
        log(
          `fuzz ${target}: ${m.inputs} inputs, corpus ${m.corpus}, coverage ${m.coverage}, findings ${m.findings}`,
        );
      } else if (m.type === 'done') {
        const r = m.result as FuzzResult;
        for (const f of r.findings) {
          f.input = Buffer.from(f.input);
          f.minimized = Buffer.from(f.minimized);
        }
        finish({ result: r, killed: null, error: null });
      }
    });
    worker.on('error', (e) => finish({ result: null, killed: null, error: e.stack ?? e.message }));
    worker.on('exit', (code) => finish({ result: null, killed: null, error: `worker exited (${code})` }));
  });
}

/** The rows of docs/torture/fuzz.json for targets other than `ran`, each marked with its run's date. */
function earlierRows(ran: Set<string>): TortureRow[] {
  const file = join(repoRoot(), 'docs/torture/fuzz.json');
  if (!existsSync(file)) return [];
  let old: Partial<TortureReport>;
  try {
    old = JSON.parse(readFileSync(file, 'utf8')) as Partial<TortureReport>;
  } catch {
    return []; // unreadable: this run's rows only
  }
  const from = ` [row kept from the run of ${old.date ?? 'an earlier date'}]`;
  return (Array.isArray(old.rows) ? old.rows : [])
    .filter((r) => typeof r?.name === 'string' && !ran.has(r.name))
    .map((r) => ({
      ...r,
      detail: (r.detail ?? '').replace(/ \[row kept from the run of [^\]]*\]$/, '') + from,
    }));
}

export const run: TorturePart = async (opts: TortureOptions): Promise<TortureReport> => {
  const t0 = Date.now();
  const inputs = Number(option(opts.args, '--fuzz-inputs') ?? (opts.long ? 1_000_000 : 20_000));
  const only = option(opts.args, '--fuzz-targets')?.split(',');
  const guided = !opts.args.includes('--fuzz-unguided');
  const maxS = option(opts.args, '--fuzz-max-s');
  const maxMs = maxS === undefined ? undefined : Number(maxS) * 1000;
  const unknown = only?.filter((n) => !TARGETS.some((t) => t.name === n)) ?? [];
  if (unknown.length > 0) {
    throw new Error(
      `--fuzz-targets: no target ${unknown.join(', ')} (targets: ${TARGETS.map((t) => t.name).join(', ')})`,
    );
  }
  const targets = TARGETS.filter((t) => !only || only.includes(t.name));
  const jobs = Number(option(opts.args, '--fuzz-jobs') ?? 1);
  const rows: TortureRow[] = [];
  const saved: string[] = [];
  const one = async (i: number): Promise<void> => {
    const target = targets[i] as (typeof targets)[number];
    const seed = (opts.seed + i * 7919) >>> 0;
    opts.log(`fuzz ${target.name}: ${inputs} inputs, seed ${seed}${guided ? ', coverage-guided' : ''}`);
    const o = await runWorker(target.name, { inputs, seed, guided, maxMs }, opts.log);
    const findings = [...(o.result?.findings ?? []), ...(o.killed ? [o.killed] : [])];
    const paths = findings.map((f) => saveFinding(target.name, f));
    saved.push(...paths);
    const r = o.result;
    const failed = !r || findings.length > 0 || r.crashes > 0 || r.hangs > 0;
    const figures: TortureRow['figures'] = {
      inputs: r?.inputs ?? 0,
      'inputs/s': r?.inputsPerS ?? 0,
      crashes: r?.crashes ?? 0,
      hangs: (r?.hangs ?? 0) + (o.killed ? 1 : 0),
      'stalls (not reproduced)': r?.stalls ?? 0,
      seeds: r?.seeds ?? 0,
      corpus: r?.corpus ?? 0,
    };
    if (r?.coverage !== null && r?.coverage !== undefined) figures['blocks covered'] = r.coverage;
    const detail = o.error
      ? `the fuzzer itself failed: ${o.error.split('\n')[0]}`
      : failed
        ? findings.map((f, k) => `${f.signature} (saved ${paths[k]})`).join('; ')
        : `pass: ${target.contract}` +
          (r.stoppedBy === 'time'
            ? ` (time cap of ${maxS} s reached after ${r.inputs.toLocaleString('en-US')} of ${inputs.toLocaleString('en-US')} inputs)`
            : '');
    rows.push({ name: target.title, result: failed ? 'fail' : 'pass', figures, detail });
    opts.log(
      `fuzz ${target.name}: ${failed ? 'FAIL' : 'pass'} — ${figures.inputs} inputs at ${figures['inputs/s']}/s, ` +
        `${figures.crashes} crashes, ${figures.hangs} hangs, corpus ${figures.corpus}`,
    );
  };
  // The slowest targets first, so parallel jobs end together.
  const queue = targets
    .map((_, i) => i)
    .sort((a, b) => (SLOW[targets[b]?.name ?? ''] ?? 0) - (SLOW[targets[a]?.name ?? ''] ?? 0));
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(jobs, targets.length)) }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) await one(i);
    }),
  );
  if (only) rows.push(...earlierRows(new Set(targets.map((t) => t.title))));
  const all = TARGETS.map((t) => t.title);
  rows.sort((a, b) => all.indexOf(a.name) - all.indexOf(b.name));
  return {
    part: 'fuzz',
    title: 'Fuzzing',
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - t0) / 1000),
    config: {
      inputsPerTarget: inputs,
      seed: opts.seed,
      guided,
      coverageSampleEvery: guided ? 1024 : null,
      hangMs: 1000,
      maxSecondsPerTarget: maxS === undefined ? null : Number(maxS),
      watchdogMs: WATCHDOG_MS,
      targets: targets.map((t) => t.name),
      jobs,
      cpus: cpus().length,
    },
    rows,
    notes: [
      'Seeded mutation fuzzer (test/torture/fuzz/engine.ts): havoc stacks of bit flips, interesting bytes and 16-bit values (0, 0xff, 0x7f, 0xc0 compression pointers…), chunk insert/delete/duplicate, splices of two corpus inputs, length-field arithmetic and dictionary tokens, plus structure-aware generators (mDNS messages through the project encoder, peer API bodies shaped like valid ones).',
      guided
        ? 'Coverage-guided: V8 precise block coverage (node:inspector Profiler, no native add-on) sampled every 1,024 inputs; a sample with new blocks is replayed input by input and the inputs that reach them join the in-memory corpus.'
        : 'Unguided run (--fuzz-unguided): mutations of the seed corpus only.',
      'Seeds are real inputs made by the project: packets two responders send on the in-memory LAN (probes, announcements, queries with known answers, goodbyes), exported contact XML plus the hostile XML fixtures, the shipped TOML files, valid peer API bodies for every POST route.',
      'A crash is an exception outside the target’s documented error (WireError, PeerhubError with its code, a 4xx JSON answer…) or a broken invariant; a hang is an input over 1 s (a worker watchdog stops one that never returns).',
      'Each finding is minimised (delta debugging) and saved under test/torture/fuzz/corpus/<target>/; test/torture/fuzz-regress.test.ts replays every saved input in CI.',
      'jazzer.js (libFuzzer) was not used: @jazzer.js/fuzzer 4.0.0 does ship prebuilt add-ons inside its npm package, but it would add a dozen packages and a babel instrumentation hook to an ESM project; V8’s own coverage needs nothing.',
      ...(saved.length ? [`Saved this run: ${saved.join(', ')}`] : []),
    ],
  };
};
