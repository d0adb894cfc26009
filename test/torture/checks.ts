/**
 * Shared by the lab torture parts (attacks, floods): each scenario collects named checks and figures;
 * the torture runner turns them into a row (pass when every check held), the tap subset asserts each
 * check on its own. Also: a lab whose teardown the part runs itself, process figures, samplers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createLab, labAvailable, agentBuilt, rssKB, type Lab, type Teardown } from '../lab/harness.js';
import type { TortureRow } from './types.js';

export interface Check {
  ok: boolean;
  what: string;
}

export interface Outcome {
  row: TortureRow;
  checks: Check[];
}

export class Checks {
  readonly list: Check[] = [];
  readonly figures: Record<string, number | string> = {};

  /** Record a check; returns the condition so callers can branch on it. */
  ok(cond: unknown, what: string): boolean {
    this.list.push({ ok: Boolean(cond), what });
    return Boolean(cond);
  }

  fig(name: string, v: number | string | null | undefined): void {
    if (v === null || v === undefined) return;
    this.figures[name] = typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 10) / 10 : v;
  }

  /** Run a step; an exception is a failed check (the scenario goes on with the next step). */
  async step<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (e) {
      this.ok(false, `${what}: ${(e as Error).message.split('\n')[0]}`);
      return null;
    }
  }

  outcome(name: string, passDetail: string): Outcome {
    const failed = this.list.filter((c) => !c.ok);
    return {
      row: {
        name,
        result: failed.length === 0 && this.list.length > 0 ? 'pass' : 'fail',
        figures: this.figures,
        detail: failed.length === 0 ? passDetail : `failed: ${failed.map((c) => c.what).join('; ')}`,
      },
      checks: this.list,
    };
  }
}

/** A lab for a torture part run outside tap: its teardown runs when `close()` is called. */
export async function partLab(hubs: number): Promise<{ lab: Lab; close: () => Promise<void> }> {
  if (!(await labAvailable())) throw new Error('the lab needs root and network namespaces');
  if (!agentBuilt()) throw new Error('the agent is not built: npm run build');
  const fns: Array<() => unknown> = [];
  const td: Teardown = { teardown: (fn) => void fns.push(fn) };
  const lab = await createLab(td, { hubs });
  return {
    lab,
    close: async () => {
      for (const fn of fns.reverse()) await fn();
    },
  };
}

/** Open file descriptors of a process (0 when it is gone). */
export function fdCount(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Resident memory in MB (0 when gone); `VmHWM` for the peak so far. */
export function rssMB(pid: number | undefined, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  if (pid === undefined) return 0;
  try {
    return rssKB(pid, field) / 1024;
  } catch {
    return 0;
  }
}

/** Kernel UDP counters of a namespace (/proc/net/snmp `Udp:` lines), e.g. RcvbufErrors. */
export async function udpCounters(lab: Lab, node: number): Promise<Record<string, number>> {
  const r = await lab.exec(node, 'cat', ['/proc/net/snmp']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const [head, vals] = [lines[0]?.split(/\s+/) ?? [], lines[1]?.split(/\s+/) ?? []];
  const out: Record<string, number> = {};
  head.forEach((k, i) => {
    if (i > 0) out[k] = Number(vals[i] ?? 0);
  });
  return out;
}

/** Run `fn` every `ms` until `stop()` is called; returns the stop function (resolves when it ended). */
export function every(ms: number, fn: () => unknown): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        await fn();
      } catch {
        // samplers never throw out
      }
      if (running) await new Promise((r) => setTimeout(r, ms));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

/** Peak of a numeric sampler between start and stop. */
export function peakSampler(ms: number, sample: () => number): { stop: () => Promise<number> } {
  let peak = sample();
  const stop = every(ms, () => (peak = Math.max(peak, sample())));
  return {
    stop: async () => {
      await stop();
      return Math.max(peak, sample());
    },
  };
}

/** `{a: 1}` minus `{a: 0}` per key, for counters. */
export function delta(after: Record<string, number>, before: Record<string, number>, key: string): number {
  return (after[key] ?? 0) - (before[key] ?? 0);
}

/** The 1-minute load average: the machine's business, printed beside timings. */
export function loadavg(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return -1;
  }
}
