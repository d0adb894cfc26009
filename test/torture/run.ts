/**
 * `npm run torture [-- --only fuzz,attacks,floods,faults] [--long] [--seed N] [part options]`: runs each
 * part module (./<part>.js, exporting `run: TorturePart`), writes docs/torture/<part>.json, then
 * regenerates docs/RELIABILITY.md from every docs/torture/*.json. A part whose module is not there yet is
 * reported as not present and skipped. Exits non-zero when any row failed or a part threw.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './fuzz/targets/files.js';
import { writeReliability, type Machine } from './report.js';
import type { TortureOptions, TorturePart, TortureReport } from './types.js';

export const PARTS = ['fuzz', 'attacks', 'floods', 'faults'] as const;

export interface RunArgs {
  only: string[];
  long: boolean;
  seed: number;
}

export function parseArgs(argv: string[]): RunArgs {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  };
  const only = value('--only')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of only ?? []) {
    if (!(PARTS as readonly string[]).includes(p))
      throw new Error(`unknown part ${p} (parts: ${PARTS.join(', ')})`);
  }
  const seedRaw = value('--seed');
  const seed = seedRaw === undefined ? 1 : Number(seedRaw);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new Error(`--seed wants an integer, got ${seedRaw}`);
  return { only: only ?? [...PARTS], long: argv.includes('--long'), seed };
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpus: `${c.length} × ${c[0]?.model.trim() ?? 'unknown CPU'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB RAM`,
    node: process.versions.node,
    os: `${type()} ${release()}`,
  };
}

async function loadPart(part: string): Promise<TorturePart | null> {
  const file = new URL(`./${part}.js`, import.meta.url);
  if (!existsSync(file)) return null;
  const mod = (await import(file.href)) as { run?: TorturePart };
  if (typeof mod.run !== 'function') throw new Error(`${part}.js exports no run()`);
  return mod.run;
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const log = (line: string): void => void process.stderr.write(`[torture] ${line}\n`);
  const root = repoRoot();
  const dir = join(root, 'docs/torture');
  mkdirSync(dir, { recursive: true });
  let broken = 0;
  log(`parts ${args.only.join(', ')}; ${args.long ? 'long' : 'bounded'} run; seed ${args.seed}`);
  for (const part of args.only) {
    const run = await loadPart(part).catch((e: Error) => {
      log(`${part}: cannot load: ${e.message}`);
      broken++;
      return null;
    });
    if (!run) {
      log(`${part}: not present, skipped`);
      continue;
    }
    const opts: TortureOptions = { long: args.long, seed: args.seed, log, args: argv };
    let report: TortureReport;
    try {
      report = await run(opts);
    } catch (e) {
      log(`${part}: failed: ${(e as Error).stack ?? String(e)}`);
      broken++;
      continue;
    }
    writeFileSync(join(dir, `${part}.json`), JSON.stringify(report, null, 2) + '\n');
    const failed = report.rows.filter((r) => r.result === 'fail');
    log(
      `${part}: ${report.rows.length - failed.length}/${report.rows.length} passed in ${report.durationS} s`,
    );
    for (const r of failed) log(`${part}: FAIL ${r.name}: ${r.detail ?? ''}`);
  }
  const { failed } = writeReliability(dir, join(root, 'docs/RELIABILITY.md'), machine());
  log(`docs/RELIABILITY.md written: ${failed} failed row${failed === 1 ? '' : 's'} in all parts`);
  return failed > 0 || broken > 0 ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`[torture] ${e.message}\n`);
      process.exit(2);
    },
  );
}
