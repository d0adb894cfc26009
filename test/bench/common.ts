/**
 * Shared pieces of the presence benchmarks (zeroconf.ts, crash.ts, fleet.ts): summaries, the machine,
 * a bench-process lab "tap", a control-socket event feed and mDNS packet counters on the lab's bridge.
 */
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { percentile, type Lab, type Stamped, type Teardown } from '../lab/harness.js';
import { must, run, waitForStamped } from '../lab/proc.js';

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  samples: number[];
}

export function summarize(xs: readonly number[]): Summary | undefined {
  if (xs.length === 0) return undefined;
  const r = (v: number): number => Math.round(v * 10) / 10;
  return {
    n: xs.length,
    p50: r(percentile(xs, 50)),
    p99: r(percentile(xs, 99)),
    min: r(Math.min(...xs)),
    max: r(Math.max(...xs)),
    samples: xs.map(r),
  };
}

/** The machine, with its load average (1, 5, 15 min) when the run ended: the lab shares the cores. */
export function machine(): {
  node: string;
  cpus: number;
  cpu: string | undefined;
  kernel: string;
  loadavg: number[];
} {
  return {
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    kernel: release(),
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export const log = (s: string): void => console.error(`# ${s}`);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  log(`wrote ${path}`);
}

/** Run `fn` with a lab teardown registry (what tap gives a test), cleaning up even on failure. */
export async function withTeardown<T>(fn: (t: Teardown, fail: () => void) => Promise<T>): Promise<T> {
  const teardowns: (() => unknown)[] = [];
  let ok = true;
  const t: Teardown = { teardown: (f) => teardowns.push(f), passing: () => ok };
  try {
    return await fn(t, () => (ok = false));
  } catch (err) {
    ok = false;
    throw err;
  } finally {
    for (const f of teardowns.reverse()) await f();
  }
}

/** performance.now() of an epoch time in ms (all processes of the lab share this machine's clock). */
export function perfOfEpoch(ms: number): number {
  return ms - (Date.now() - performance.now());
}

export interface HubEvent {
  id: number;
  time: string;
  type: string;
  data: Record<string, unknown>;
}

/** A hub event with its times: `t` arrival here; `at` the hub's own stamp (its bus time), as performance.now(). */
export interface FeedRecord {
  ev: HubEvent;
  arrived: number;
  at: number;
  replayed: boolean; // stamped by the hub before this feed was connected
}

/**
 * `GET /v1/events?since=0` on a hub's control socket, straight from this process (no CLI process per
 * hub): the hub replays its buffered history, then streams. Connects as soon as the socket answers.
 * An event's time `t` is its arrival here, or the hub's own stamp if it happened before the feed was
 * connected (a hub opens its control socket only after its first announcement).
 */
export class HubFeed {
  readonly records: Stamped<FeedRecord>[] = [];
  private readonly bus = new EventEmitter();
  private closed = false;
  private req: ReturnType<typeof request> | null = null;
  connectedAt = NaN;

  constructor(
    readonly socket: string,
    readonly name: string,
  ) {
    this.bus.setMaxListeners(1000);
  }

  /** Connect (retrying while the socket is not there yet, bounded); resolves once the response started. */
  async connect(timeoutMs = 120_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw new Error(`${this.name}: feed closed`);
      const ok = await this.tryConnect().catch(() => false);
      if (ok) return;
      if (performance.now() > deadline) throw new Error(`${this.name}: control socket not answering`);
      await sleep(100);
    }
  }

  private tryConnect(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, path: '/v1/events?since=0', method: 'GET' }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return resolve(false);
        }
        this.connectedAt = performance.now();
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          const now = performance.now();
          buf += d;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line.startsWith('{')) continue;
            let ev: HubEvent;
            try {
              ev = JSON.parse(line) as HubEvent;
            } catch {
              continue;
            }
            const at = perfOfEpoch(Date.parse(ev.time));
            const replayed = at < this.connectedAt - 5;
            const rec: Stamped<FeedRecord> = {
              t: replayed ? at : now,
              value: { ev, arrived: now, at, replayed },
            };
            this.records.push(rec);
            this.bus.emit('record', rec);
          }
        });
        res.on('close', () => this.bus.emit('end'));
        resolve(true);
      });
      // A connection that never answers (an agent too starved to respond) is retried, not waited on forever.
      const timer = setTimeout(() => req.destroy(new Error('no response')), 10_000);
      req.on('response', () => clearTimeout(timer));
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end();
      this.req = req;
    });
  }

  waitFor(pred: (r: FeedRecord) => boolean, opts: { since?: number; timeout?: number } = {}) {
    return waitForStamped(this.records, this.bus, pred, opts, {
      endEvent: 'end',
      ended: () => this.closed,
      endError: () => new Error(`${this.name}: event feed ended`),
      timeoutError: (ms) => new Error(`${this.name}: no matching event within ${ms} ms`),
    });
  }

  close(): void {
    this.closed = true;
    this.req?.destroy();
  }
}

/** The instance name of a peer event (peer:found/changed carry the row; peer:lost carries { peer }). */
export function peerInstance(data: Record<string, unknown>): string | undefined {
  const d = data as { instance?: string; peer?: { instance?: string } };
  return d.peer?.instance ?? d.instance;
}

// ---- mDNS packet counters on the lab's bridge (nftables in the switch namespace) ----

/**
 * One nftables counter per switch port (veth) for UDP to port 5353 entering the bridge: what each node
 * sends to the LAN's mDNS group. A bridge-family table in the lab's switch namespace (gone with it).
 */
export class MdnsCounters {
  private readonly table: string;
  constructor(
    private readonly lab: Lab,
    private readonly nodes: readonly number[],
  ) {
    this.table = 'phbench';
  }

  private nft(args: string[], input?: string) {
    const sw = this.lab.switchNs;
    if (input === undefined) return must('ip', ['netns', 'exec', sw, 'nft', ...args]);
    return must('ip', ['netns', 'exec', sw, 'nft', '-f', input]);
  }

  /** (Re)create the table with zeroed counters. */
  async reset(): Promise<void> {
    await run('ip', ['netns', 'exec', this.lab.switchNs, 'nft', 'delete', 'table', 'bridge', this.table]);
    const lines = [
      `table bridge ${this.table} {`,
      ...this.nodes.map((i) => `  counter c${i} { }`),
      '  chain pre {',
      '    type filter hook prerouting priority -200; policy accept;',
      ...this.nodes.map((i) => `    iifname "${this.lab.node(i).veth}" udp dport 5353 counter name c${i}`),
      '  }',
      '}',
    ];
    const file = `${this.lab.dir}/nft-${this.table}.conf`;
    writeFileSync(file, lines.join('\n') + '\n');
    await this.nft([], file);
  }

  /** Packets counted per node since the last reset. */
  async read(): Promise<Record<number, number>> {
    const r = await this.nft(['-j', 'list', 'counters', 'table', 'bridge', this.table]);
    const out: Record<number, number> = {};
    const j = r.json<{ nftables: Array<{ counter?: { name: string; packets: number } }> }>();
    for (const item of j.nftables) {
      const c = item.counter;
      if (c && /^c\d+$/.test(c.name)) out[Number(c.name.slice(1))] = c.packets;
    }
    return out;
  }
}
