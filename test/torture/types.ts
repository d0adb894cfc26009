/**
 * The contract between `npm run torture` (test/torture/run.ts) and its parts (fuzz, attacks, floods,
 * faults): each part is a module exporting `run: TorturePart`; the runner writes each report to
 * docs/torture/<part>.json and generates docs/RELIABILITY.md from all of them.
 */
export interface TortureRow {
  name: string; // what was tried, e.g. "mDNS decoder" or "30 % loss during invitations"
  result: 'pass' | 'fail';
  figures: Record<string, number | string>; // e.g. { inputs: 1000000, crashes: 0, hangs: 0 }
  detail?: string; // one sentence: what pass means here, or what failed
}

export interface TortureReport {
  part: string; // 'fuzz' | 'attacks' | 'floods' | 'faults'
  title: string;
  date: string; // ISO
  durationS: number;
  config: Record<string, unknown>; // the bounds used (inputs per target, seconds, rates, seed…)
  rows: TortureRow[];
  notes: string[];
}

export interface TortureOptions {
  long: boolean; // the long run (≥ 1,000,000 inputs per fuzz target, 60 s floods); else a bounded run
  seed: number; // reproducible randomness
  log: (line: string) => void; // progress, to stderr
  args: string[]; // the command line after `--`, for part-specific options
}

export type TorturePart = (opts: TortureOptions) => Promise<TortureReport>;
