/**
 * Presence CPU: the CPU one hub's mDNS presence (decode, cache, People Near Me table, responder) spends
 * while N hubs start together, and at rest. The same firmware code as the agent, on the in-memory LAN
 * (firmware/presence/test-lan.ts) with a simulated clock: the workload is deterministic (seeded), so
 * two runs of two code versions see the same packets; only the CPU time differs.
 *
 *   node dist/test/bench/presence-cpu.js [--hubs 50 --seconds 120 --seed 7 --out file.json]   (npm run bench -- --only presence-cpu)
 *
 * Run the agent's way for agent-like figures: node --max-semi-space-size=2 --no-opt (the unit's flags).
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { EventBus } from '../../firmware/core/bus.js';
import type { Clock, Timer } from '../../firmware/core/clock.js';
import { silentLogger } from '../../firmware/core/logger.js';
import { createMdnsPresence, createTestLan, type PresenceEvents } from '../../firmware/presence/index.js';
import { machine, writeJson } from './common.js';

/** A simulated clock with a timer heap (ManualClock scans all timers per firing: fine for tests, not for 50 hubs). */
class HeapClock implements Clock {
  private t = 1_700_000_000_000;
  private seq = 0;
  private heap: Array<{ at: number; seq: number; fn: () => void; live: boolean }> = [];
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): Timer {
    const item = { at: this.t + Math.max(0, ms), seq: ++this.seq, fn, live: true };
    this.push(item);
    return { cancel: () => void (item.live = false) };
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (let guard = 0; guard < 10_000_000; guard++) {
      const top = this.heap[0];
      if (!top || top.at > end) break;
      this.pop();
      if (!top.live) continue;
      this.t = Math.max(this.t, top.at);
      top.fn();
    }
    this.t = end;
  }
  private less(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }
  private swap(a: number, b: number): void {
    [this.heap[a], this.heap[b]] = [this.heap[b]!, this.heap[a]!];
  }
  private push(item: (typeof this.heap)[number]): void {
    this.heap.push(item);
    for (let i = this.heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  private pop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length === 0) return;
    this.heap[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.heap.length && this.less(l, m)) m = l;
      if (r < this.heap.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}

export interface PresenceCpuResult {
  hubs: number;
  seconds: number;
  seed: number;
  startCpuMsPerHub: number; // receive path + timers, first `seconds` after the common start
  restCpuMsPerHubPerMin: number; // the same, over the 10 minutes after that
  packets: number; // on the LAN during the start window
  lost: number; // peer:lost events during the whole run (none expected: nobody leaves)
  allSeeAll: boolean; // at the end
  wholeAtS: number | null; // first whole second at which every hub listed all others
  nodeFlags: string;
}

export async function presenceCpu(hubs: number, seconds: number, seed: number): Promise<PresenceCpuResult> {
  const clock = new HeapClock();
  let s = seed >>> 0;
  const random = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const lan = createTestLan({ clock, random, latency: 1 });
  let busyMs = 0;
  const timed =
    <A extends unknown[]>(fn: (...a: A) => void) =>
    (...a: A): void => {
      const t0 = performance.now();
      try {
        fn(...a);
      } finally {
        busyMs += performance.now() - t0;
      }
    };
  // Everything a hub does runs from a timer of this clock (deliveries included): time them all.
  const inner = clock.setTimer.bind(clock);
  clock.setTimer = (ms, fn) => inner(ms, timed(fn));
  let lost = 0;
  const nodes = Array.from({ length: hubs }, (_, i) => {
    const bus = new EventBus<PresenceEvents>(() => clock.now());
    bus.on('peer:lost', () => void lost++);
    const svc = createMdnsPresence(
      { clock, logger: silentLogger(), bus, transport: lan.transport(`10.77.${i >> 8}.${(i & 255) + 1}`) },
      { random },
    );
    return svc;
  });
  await Promise.all(nodes.map((n) => n.start()));
  nodes.forEach((n, i) =>
    n.announce({ nickname: `Hub ${i}`, peerId: `PEER-${i}`, status: 'Online', seq: 1, port: 7443 }),
  );
  let wholeAtS: number | null = null;
  for (let sec = 1; sec <= seconds; sec++) {
    clock.advance(1000);
    if (wholeAtS === null && nodes.every((n) => n.peers().length === hubs - 1)) wholeAtS = sec;
  }
  const startMs = busyMs;
  const packets = lan.log.length;
  busyMs = 0;
  clock.advance(10 * 60_000);
  const restMs = busyMs;
  const allSeeAll = nodes.every((n) => n.peers().length === hubs - 1);
  for (const n of nodes) await n.stop();
  return {
    hubs,
    seconds,
    seed,
    startCpuMsPerHub: Math.round((startMs / hubs) * 10) / 10,
    restCpuMsPerHubPerMin: Math.round((restMs / hubs / 10) * 100) / 100,
    packets,
    lost,
    allSeeAll,
    wholeAtS,
    nodeFlags: process.execArgv.join(' '),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      hubs: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '120' },
      seed: { type: 'string', default: '7' },
      out: { type: 'string' },
    },
  });
  const r = await presenceCpu(Number(values.hubs), Number(values.seconds), Number(values.seed));
  console.log(
    `presence CPU, ${r.hubs} hubs started together (in-memory LAN, ${r.nodeFlags || 'default flags'}): ${r.startCpuMsPerHub} ms per hub over the first ${r.seconds} s (${r.packets} packets), ${r.restCpuMsPerHubPerMin} ms per hub per minute at rest; whole after ${r.wholeAtS} s, ${r.lost} lost`,
  );
  if (values.out) writeJson(values.out, { date: new Date().toISOString(), machine: machine(), ...r });
}
