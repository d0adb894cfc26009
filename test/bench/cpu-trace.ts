/** CPU of a group of processes and of the whole machine over a stretch of a benchmark. */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CLK_TCK, cpuTicksOr0, machineBusyTicks } from '../lab/proc.js';

export interface CpuUsed {
  untilMs: number; // from t0 to the sample used
  hubsCoreS: number; // the processes'
  machineCoreS: number; // everything on the machine (/proc/stat, all cores)
  cores: number;
}

/**
 * CPU of a set of processes and of the machine, sampled every second from now on (a 100-hub start on
 * 2 cores is bound by CPU: this says how much it took, and whether anything else took some).
 */
export class CpuTrace {
  private readonly samples: Array<{ t: number; procs: number; machine: number }> = [];
  private readonly timer: NodeJS.Timeout;
  private readonly seen = new Map<number, number>(); // pid → its last ticks (a process gone keeps them)
  constructor(private readonly pids: () => number[]) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  private sample(): void {
    for (const p of this.pids()) {
      const ticks = cpuTicksOr0(p);
      if (ticks > 0) this.seen.set(p, ticks);
    }
    let procs = 0;
    for (const v of this.seen.values()) procs += v;
    this.samples.push({ t: performance.now(), procs, machine: machineBusyTicks() });
    if (this.samples.length > 7200) this.samples.splice(1, 1); // keep the first: it is t0's
  }

  /** Core-seconds from the first sample to the first one at or after `to` (≤ 1 s late). */
  until(t0: number, to: number): CpuUsed {
    this.sample();
    const a = this.samples[0] as { t: number; procs: number; machine: number };
    const b = this.samples.find((x) => x.t >= to) ?? (this.samples[this.samples.length - 1] as typeof a);
    const r1 = (x: number): number => Math.round(x * 10) / 10;
    return {
      untilMs: Math.round(b.t - t0),
      hubsCoreS: r1((b.procs - a.procs) / CLK_TCK),
      machineCoreS: r1((b.machine - a.machine) / CLK_TCK),
      cores: cpus().length,
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
