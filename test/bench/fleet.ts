/**
 * Fleets: N hubs of one tool on N lab nodes (peerhub agents; avahi-daemons, each with its own
 * dbus-daemon, an avahi-publish and an avahi-browse -rp; python3-zeroconf processes each publishing
 * one service and browsing), for each N of --fleet (default 10,50,100) and each tool:
 *
 *  (b) together: all N started at once (nothing staggered) → time until every hub sees all others
 *      (per hub: its own count of resolved peers reaches N − 1), bounded by --fleet-deadline. peerhub
 *      hubs are provisioned hubs booting together (a building's power coming back): their identities
 *      (root and TLS keys, made by the agent's own code) are created before the clock starts, as their
 *      first boot did; --fleet-first-boot starts them with empty data directories instead (each agent
 *      makes its keys while the others start);
 *  (c) steady state: after --fleet-settle s, mDNS packets per minute per hub over --fleet-window s
 *      (240 by default: ≥ 4 refresh rounds, so the window's phase moves the rate by ≤ 60/240 per round),
 *      counted on the bridge (nftables counters, one per switch port, UDP to port 5353 entering the
 *      bridge = what that hub sends), plus the CPU and RSS of the tool's processes over the window;
 *  (a) join: one more hub started on node N next to the N running ones → time from its process start
 *      and from its "ready" until it sees all N (--join-samples times; stopped gracefully in between).
 *
 *   npm run bench -- --only fleet [--fleet 10,50,100 --fleet-tools peerhub,avahi,zeroconf
 *       --fleet-window 240 [--fleet-settle S: default per size, settleFor] --fleet-deadline 300 --join-samples 3
 *       [--fleet-first-boot] --fleet-out docs/bench/fleet.json]
 *
 * "ready": peerhub = its agent:ready event (control API up, after its first announcement);
 * avahi = avahi-publish printed "Established under name" (the daemon is started on a bus already
 * running, as a host's system bus is); zeroconf = register_service returned (probes + announcements).
 * Seen = resolved: peerhub peer:found on the hub's event stream (GET /v1/events?since=0 on its control
 * socket, from this process); avahi `=` lines of avahi-browse -rp; zeroconf the helper's resolved `add`.
 * Event times are arrival stamps here, except peerhub events that happened before this process could
 * connect to the hub's control socket (it opens after the first announcement): those carry the hub's
 * own event time (same machine clock).
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import {
  agentBuilt,
  agentCliPath,
  AvahiNode,
  createLab,
  labAvailable,
  LAB_SKIP,
  repoRoot,
  rssKB,
  type Hub,
  type Lab,
  type Stamped,
} from '../lab/harness.js';
import { CLK_TCK, cpuTicksOr0, type Stream } from '../lab/proc.js';
import { hubDataDir } from '../lab/hub.js';
import { silentLogger } from '../../firmware/core/logger.js';
import { loadOrCreateIdentity } from '../../firmware/identity/files.js';
import type { AvahiBrowseLine } from '../lab/avahi.js';
import {
  HubFeed,
  log,
  machine,
  MdnsCounters,
  peerInstance,
  sleep,
  summarize,
  withTeardown,
  writeJson,
  type Summary,
} from './common.js';
import { CpuTrace, type CpuUsed } from './cpu-trace.js';
import { KeptBrowser, restartDelayMs } from './kept-browser.js';
import { ZeroconfPeer, type ZcEvent } from './zeroconf.js';

export type FleetTool = 'peerhub' | 'avahi' | 'zeroconf';

export interface FleetOptions {
  sizes: number[];
  tools: FleetTool[];
  windowS: number;
  /** Seconds between "all see all" and the steady window; null: per fleet size (settleFor). */
  settleS: number | null;
  deadlineS: number;
  joinSamples: number;
  /** peerhub together: start with empty data directories (keys made while starting), not provisioned hubs. */
  firstBoot: boolean;
  out: string;
}

/**
 * The steady window starts this long after a fleet of n saw itself whole: 30 s up to 8 hubs, 3.6 s per
 * hub beyond (36 s for 10, 180 s for 50, 360 s for 100). A peerhub fleet of 50 on 2 cores is still
 * verifying its 2,450 pairs 30 s after "all see all" (6 packets/min per hub measured in that window,
 * 1.6–1.7 from 180 s on): a shorter settle measures the start-up, not the steady state.
 */
export function settleFor(o: Pick<FleetOptions, 'settleS'>, n: number): number {
  return o.settleS ?? Math.min(600, Math.max(30, Math.round(3.6 * n)));
}

export function fleetOptionsFromArgs(argv: string[]): FleetOptions {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: {
      fleet: { type: 'string', default: '10,50,100' },
      'fleet-tools': { type: 'string', default: 'peerhub,avahi,zeroconf' },
      // Refresh rounds come every ≈ 48 s (peerhub: 80–82 % of a 60 s TTL; avahi ≈ 96 s): a window holds a
      // whole number of them ± 1, so a 60 s window read 1.0 or 2.1 packets/min per hub by its phase alone.
      'fleet-window': { type: 'string', default: '240' },
      'fleet-settle': { type: 'string' }, // default: per fleet size (settleFor)
      'fleet-deadline': { type: 'string', default: '300' },
      'join-samples': { type: 'string', default: '3' },
      'fleet-first-boot': { type: 'boolean', default: false },
      'fleet-out': { type: 'string', default: join(repoRoot(), 'docs/bench/fleet.json') },
    },
  });
  return {
    sizes: String(values.fleet)
      .split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n >= 2 && n <= 109)
      .sort((a, b) => a - b),
    tools: String(values['fleet-tools'])
      .split(',')
      .filter((t): t is FleetTool => t === 'peerhub' || t === 'avahi' || t === 'zeroconf'),
    windowS: Math.max(5, Math.min(1800, Number(values['fleet-window']))),
    settleS:
      values['fleet-settle'] === undefined
        ? null
        : Math.max(0, Math.min(600, Number(values['fleet-settle']))),
    deadlineS: Math.max(10, Math.min(1800, Number(values['fleet-deadline']))),
    joinSamples: Math.max(1, Math.min(20, Number(values['join-samples']))),
    firstBoot: values['fleet-first-boot'] === true,
    out: String(values['fleet-out']),
  };
}

/** A seen/gone observation of one instance name. */
type Sighting = { kind: 'add' | 'remove'; name: string };

/** One running hub of any tool, as the fleet sees it. */
interface Member {
  node: number;
  name: string;
  spawnedAt: number; // performance.now() at its process spawn
  pids(): number[]; // the tool's processes of this hub (for CPU/RSS)
  /** Its ready time (see the header), or null if it never got there by `timeout`. */
  ready(timeout: number): Promise<number | null>;
  /** First time (≥ since) its set of seen names from `expected` reaches `target`, or null at the deadline. */
  seenAll(expected: ReadonlySet<string>, target: number, since: number, timeout: number): Promise<SeenResult>;
  /** How many of `expected` it lists now (all its sightings so far, folded). */
  nowSeen(expected: ReadonlySet<string>): number;
  /** Its sightings so far, in arrival order (t: performance.now()). */
  sightings(): Array<{ t: number; s: Sighting }>;
  /** peerhub: why it lost peers between two times (its peer:lost reasons), counted. */
  lostReasons?(since: number, until: number): Record<string, number>;
  /** Why it is not there (process state and the tail of its output), for the report. */
  diag(): string;
  /** More about its state (peerhub: its status counters and peer list), for a failure. */
  debug?(): Promise<string>;
  stop(): Promise<void>;
}

interface SeenResult {
  t: number | null;
  seen: number; // how many of the expected it saw (at the end)
  missing?: string[]; // which of the expected it did not list at the end
}

/** A stateful predicate over sightings: true once `target` of `expected` are seen at the same time. */
function counter(expected: ReadonlySet<string>, target: number): (s: Sighting | undefined) => boolean {
  const seen = new Set<string>();
  const pred = (s: Sighting | undefined): boolean => {
    if (!s || !expected.has(s.name)) return false;
    if (s.kind === 'add') seen.add(s.name);
    else seen.delete(s.name);
    return seen.size >= target;
  };
  (pred as unknown as { seen: Set<string> }).seen = seen;
  return pred;
}

function fold<T>(
  records: readonly Stamped<T>[],
  toSighting: (v: T) => Sighting | undefined,
  expected: ReadonlySet<string>,
): number {
  const seen = new Set<string>();
  for (const r of records) {
    const s = toSighting(r.value);
    if (!s || !expected.has(s.name)) continue;
    if (s.kind === 'add') seen.add(s.name);
    else seen.delete(s.name);
  }
  return seen.size;
}

function stamped<T>(
  records: readonly Stamped<T>[],
  toSighting: (v: T) => Sighting | undefined,
): Array<{ t: number; s: Sighting }> {
  const out: Array<{ t: number; s: Sighting }> = [];
  for (const r of records) {
    const s = toSighting(r.value);
    if (s) out.push({ t: r.t, s });
  }
  return out;
}

/**
 * The fleet seen whole: the first time every member listed all the others at once (each member's own
 * "saw all" may come before another member's and be undone by a loss in between), or null.
 */
export function wholeAt(
  timelines: ReadonlyArray<ReadonlyArray<{ t: number; s: Sighting }>>,
  expected: ReadonlyArray<ReadonlySet<string>>,
): number | null {
  const n = timelines.length;
  const events = timelines.flatMap((tl, k) => tl.map((e) => ({ ...e, k })));
  events.sort((a, b) => a.t - b.t);
  const sets = timelines.map(() => new Set<string>());
  let full = 0;
  for (const e of events) {
    const set = sets[e.k] as Set<string>;
    const want = expected[e.k] as ReadonlySet<string>;
    if (!want.has(e.s.name)) continue;
    const before = set.size === want.size;
    if (e.s.kind === 'add') set.add(e.s.name);
    else set.delete(e.s.name);
    full += Number(set.size === want.size) - Number(before);
    if (full === n) return e.t;
  }
  return null;
}

async function seenAllOn<T>(
  wait: (pred: (v: T) => boolean, opts: { since: number; timeout: number }) => Promise<Stamped<T>>,
  toSighting: (v: T) => Sighting | undefined,
  expected: ReadonlySet<string>,
  target: number,
  since: number,
  timeout: number,
): Promise<SeenResult> {
  const pred = counter(expected, target);
  const seen = (pred as unknown as { seen: Set<string> }).seen;
  try {
    const r = await wait((v) => pred(toSighting(v)), { since, timeout: Math.max(1, timeout) });
    return { t: r.t, seen: seen.size };
  } catch (err) {
    if (/within|no matching|gave up/.test((err as Error).message))
      return { t: null, seen: seen.size, missing: [...expected].filter((x) => !seen.has(x)) };
    throw err;
  }
}

// ---- the three tools ----

function startPeerhub(lab: Lab, node: number, name: string, deadlineMs: number): Member {
  let hub: Hub | null = null;
  const feed = new HubFeed(join(lab.node(node).dir, 'hub', 'control.sock'), `fleet-feed${node}`);
  const spawnedAt = performance.now();
  const started = lab
    .startHub(node, { nickname: name, logLevel: 'warn', waitReady: false })
    .then((h) => (hub = h));
  const connected = started.then(() => feed.connect(deadlineMs));
  connected.catch(() => undefined);
  // A hub whose control socket does not answer (an agent starved on a saturated lab) must not hold a
  // caller for the whole connect deadline: each wait is bounded by its own timeout.
  const connectedWithin = async (ms: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${name}: control socket not connected within ${ms} ms`)),
        ms,
      );
    });
    try {
      await Promise.race([connected, late]);
    } finally {
      clearTimeout(timer);
    }
  };
  const sighting = (r: { ev: { type: string; data: Record<string, unknown> } }): Sighting | undefined => {
    const t = r.ev.type;
    if (t !== 'peer:found' && t !== 'peer:lost' && t !== 'peer:changed') return undefined;
    const n = peerInstance(r.ev.data);
    return n === undefined ? undefined : { kind: t === 'peer:lost' ? 'remove' : 'add', name: n };
  };
  return {
    node,
    name,
    spawnedAt,
    pids: () => (hub?.pid ? [hub.pid] : []),
    async ready(timeout) {
      const t0 = performance.now();
      try {
        await connectedWithin(timeout);
        const left = Math.max(1, timeout - (performance.now() - t0));
        return (await feed.waitFor((r) => r.ev.type === 'agent:ready', { timeout: left })).t;
      } catch {
        return null;
      }
    },
    async seenAll(expected, target, since, timeout) {
      const t0 = performance.now();
      try {
        await connectedWithin(timeout);
      } catch {
        return { t: null, seen: 0 };
      }
      return seenAllOn(
        (p, o) => feed.waitFor(p, o),
        sighting,
        expected,
        target,
        since,
        timeout - (performance.now() - t0),
      );
    },
    nowSeen: (expected) => fold(feed.records, (r) => sighting(r), expected),
    sightings: () => stamped(feed.records, (r) => sighting(r)),
    lostReasons(since, until) {
      const out: Record<string, number> = {};
      for (const r of feed.records) {
        if (r.t < since || r.t > until || r.value.ev.type !== 'peer:lost') continue;
        const reason = String((r.value.ev.data as { reason?: unknown }).reason ?? 'unknown');
        out[reason] = (out[reason] ?? 0) + 1;
      }
      return out;
    },
    diag: () =>
      hub?.agent
        ? `${name}: agent ${hub.agent.running ? 'running' : 'exited'}, feed ${Number.isNaN(feed.connectedAt) ? 'never connected' : 'connected'}\n${hub.agent.tail(8)}`
        : `${name}: not spawned`,
    async debug() {
      if (!hub?.running) return `${name}: not running`;
      const [status, peers] = await Promise.all([
        hub.cli(['status', '--json']),
        hub.cli(['peers', '--json']),
      ]);
      return `${name} status: ${status.stdout.trim()}\n${name} nearby: ${peers.stdout.trim().slice(0, 4000)}`;
    },
    async stop() {
      feed.close();
      await started.catch(() => undefined);
      if (hub?.running) await hub.stop();
    },
  };
}

const AVAHI_TYPE = '_peerhub._tcp';

function avahiNodeOf(lab: Lab, node: number, cache: Map<number, AvahiNode>): AvahiNode {
  let a = cache.get(node);
  if (!a) {
    const n = lab.node(node);
    a = new AvahiNode({
      ns: n.ns,
      index: node,
      dir: join(n.dir, 'avahi-fleet'),
      hostName: `${lab.id.replace(/^phlab-\d+-/, 'phl')}-fa${node}`,
      track: (s) => lab.track(s),
      repo: repoRoot(),
    });
    cache.set(node, a);
  }
  return a;
}

const avahiSighting = (l: AvahiBrowseLine): Sighting | undefined =>
  l.kind === '='
    ? { kind: 'add', name: l.name }
    : l.kind === '-'
      ? { kind: 'remove', name: l.name }
      : undefined;

const zcSighting = (e: ZcEvent): Sighting | undefined =>
  e.ev === 'add' && e.resolved && e.name
    ? { kind: 'add', name: e.name }
    : e.ev === 'remove' && e.name
      ? { kind: 'remove', name: e.name }
      : undefined;

/**
 * avahi-browse restarts per hub (see kept-browser.ts) and avahi-publish attempts: 1 s, then doubling up
 * to 16 s between them (≈ 2 minutes in all). With 5 tries a second apart, one hub of 100 saw its
 * browser fail each time (D-Bus errors while the fleet's daemons were busiest) and the fleet could not
 * be whole.
 */
const BROWSE_RESTARTS = 10;
const RETRY_MS = 1000;
/**
 * avahi-publish gives up at once when its D-Bus calls fail: with 100 daemons, their buses and 100
 * resolving browsers on 2 cores, a third of the publishers exited at start ("Failed to create client
 * object: Daemon not running", "Failed to create entry group: An unexpected D-Bus error occurred") and
 * their services were never on the LAN. Started again (pauses as for the browser); the hub is ready
 * when one is established, the time of the failed attempts included.
 */
const PUBLISH_ATTEMPTS = BROWSE_RESTARTS + 1;

/** The bus must already run (avahiNode.startBus()): the daemon is timed from its own spawn. */
function startAvahi(a: AvahiNode, node: number, name: string, deadlineMs: number): Member {
  let pub: Stream | null = null;
  let failure = '';
  const spawnedAt = performance.now();
  const browse = new KeptBrowser(() => a.browseStream(AVAHI_TYPE), {
    name: `fleet avahi: ${name}`,
    restarts: BROWSE_RESTARTS,
    retryMs: RETRY_MS,
    log,
  });
  let publishRetries = 0;
  const startPublish = async (): Promise<Stream> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await a.publish(name, AVAHI_TYPE, 7443, ['v=1', 'st=Online'], deadlineMs);
      } catch (err) {
        // Only a publisher that exited is started again (not one that never got there in time).
        if (attempt >= PUBLISH_ATTEMPTS || !/exited/.test((err as Error).message)) throw err;
        publishRetries++;
        const why = (err as Error).message.split('\n').slice(-1)[0]?.trim();
        log(`fleet avahi: ${name}: avahi-publish exited at start (attempt ${attempt}): ${why}`);
        await sleep(restartDelayMs(RETRY_MS, attempt));
      }
    }
  };
  const up = a.startDaemon(deadlineMs).then(async () => {
    browse.start(); // the publisher does not wait for the browser: its timing stays the daemon's own
    return (pub = await startPublish());
  });
  up.catch((err: Error) => (failure = err.message.split('\n')[0] ?? ''));
  up.catch(() => undefined);
  return {
    node,
    name,
    spawnedAt,
    pids: () => [a.pid, a.busPid].filter((p): p is number => p !== undefined),
    async ready(timeout) {
      const timer = sleep(timeout).then(() => null);
      const p = await Promise.race([up.catch(() => null), timer]);
      if (!p) return null;
      return p.records.find((r) => /Established/.test(r.value))?.t ?? performance.now();
    },
    nowSeen: (expected) => fold(browse.records, avahiSighting, expected),
    sightings: () => stamped(browse.records, avahiSighting),
    diag: () =>
      `${name}: avahi-daemon ${a.log?.running ? 'running' : 'not running'}, publisher ${pub ? 'up' : 'not up'}${publishRetries ? ` after ${publishRetries} restarts` : ''}${failure ? ` (${failure})` : ''}, ${browse.describe()}\n${a.log?.tail(8) ?? ''}`,
    async seenAll(expected, target, since, timeout) {
      const t0 = performance.now();
      const ok = await Promise.race([
        up.then(() => true).catch(() => false),
        sleep(timeout).then(() => false),
      ]);
      if (!ok) return { t: null, seen: 0 };
      return seenAllOn(
        (p, o) => browse.waitForRecord(p, o),
        avahiSighting,
        expected,
        target,
        since,
        timeout - (performance.now() - t0),
      );
    },
    async stop() {
      await up.catch(() => undefined);
      await browse.stop();
      await (pub as Stream | null)?.stop('SIGTERM', 3_000);
      await a.stopDaemon();
    },
  };
}

function startZeroconf(lab: Lab, node: number, name: string): Member {
  const zc = new ZeroconfPeer(lab, node, {
    browse: true,
    name,
    host: `zf-${lab.subnet}-${node}`,
    txt: ['v=1', 'st=Online'],
  });
  return {
    node,
    name,
    spawnedAt: zc.startedAt,
    pids: () => (zc.pid ? [zc.pid] : []),
    async ready(timeout) {
      try {
        return (await zc.registered(timeout)).t;
      } catch {
        return null;
      }
    },
    seenAll(expected, target, since, timeout) {
      return seenAllOn((p, o) => zc.waitFor(p, o), zcSighting, expected, target, since, timeout);
    },
    nowSeen: (expected) => fold(zc.stream.records, zcSighting, expected),
    sightings: () => stamped(zc.stream.records, zcSighting),
    diag: () => `${name}: python ${zc.running ? 'running' : 'exited'}\n${zc.stream.tail(8)}`,
    async stop() {
      zc.quit();
      const done = await Promise.race([zc.stream.exited.then(() => true), sleep(5_000).then(() => false)]);
      if (!done) await zc.kill();
    },
  };
}

// ---- one tool at one size ----

export interface FleetRun {
  tool: FleetTool;
  n: number;
  date: string; // when this tool × size ran (runs of earlier invocations are kept in the file)
  together: {
    complete: boolean; // every hub saw all others by the deadline
    allMs: number | null; // from the first spawn until the last hub saw all (each hub at its own time)
    /** From the first spawn until every hub listed all others at the same time (null: not by the deadline). */
    wholeMs?: number | null;
    /** Peers lost (removals on the hubs' streams) from the first spawn until whole (or the deadline). */
    lostBeforeWhole?: number;
    /** peerhub: their reasons (peer:lost `reason`). */
    lostReasons?: Record<string, number>;
    hubsComplete: number;
    minSeen: number; // the fewest others any hub saw (of n − 1)
    perHubFromStart?: Summary; // each hub, from its own spawn
    ready?: Summary; // spawn → ready per hub
    readyCount: number;
    deadlineS: number;
    /** peerhub: 'later' = identities made before the clock started (provisioned hubs), 'first' = while starting. */
    boot?: 'first' | 'later';
    /**
     * CPU from the first spawn until whole (or the deadline), sampled every second: what the hubs'
     * processes used (hubsCoreS; the tool's processes, as in the steady window) and what the whole
     * machine was busy (machineCoreS), in core-seconds, against cores × untilMs available.
     */
    cpu?: CpuUsed;
    problems?: string[]; // hubs not ready or not done by the deadline: state and output tail (first 5)
  };
  packets?: {
    windowS: number;
    perHubPerMin: Summary; // each hub's rate
    meanPerHubPerMin: number;
    totalPerMin: number;
    cpuPercentPerHub: number; // mean over hubs (all of the tool's processes of a hub)
    rssMBPerHub: number; // mean
    stillSeenAll: number; // hubs that still saw all others at the end of the window
    /** Removals on the hubs' streams from "whole" to the end of the window (a whole fleet loses nobody). */
    lostAfterWhole?: number;
    fewestListed?: number; // the fewest others any hub listed at the end of the window
  };
  join?: {
    fromStart?: Summary;
    fromReady?: Summary; // negative: it saw them all before it was ready
    failures: number;
    samples: number;
  };
  error?: string;
}

/**
 * Hubs 0..n−1 before the clock starts (not timed). 'first': empty data directories (a smaller fleet of
 * the same invocation ran on these nodes). 'later': provisioned hubs — the identity a first boot makes
 * (root and TLS keys and certificates), made by the agent's own code in each data directory unless
 * there.
 */
async function prepareBoot(lab: Lab, n: number, boot: 'first' | 'later'): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const dataDir = hubDataDir(lab.node(i));
    if (boot === 'first') await rm(dataDir, { recursive: true, force: true });
    else await loadOrCreateIdentity({ now: () => Date.now(), logger: silentLogger() }, { dataDir });
  }
  const what = boot === 'first' ? 'data directories emptied' : 'identities in place';
  log(`fleet peerhub ×${n}: ${what} in ${Math.round(performance.now() - t0)} ms (not timed)`);
}

async function runOne(
  lab: Lab,
  tool: FleetTool,
  n: number,
  o: FleetOptions,
  avahiCache: Map<number, AvahiNode>,
): Promise<FleetRun> {
  const deadlineMs = o.deadlineS * 1000;
  const nameOf = (i: number): string =>
    tool === 'peerhub' ? `F${i}` : tool === 'avahi' ? `FA${i}` : `FZ${i}`;
  const names = Array.from({ length: n }, (_, i) => nameOf(i));
  const start = (i: number, name: string): Member =>
    tool === 'peerhub'
      ? startPeerhub(lab, i, name, deadlineMs)
      : tool === 'avahi'
        ? startAvahi(avahiNodeOf(lab, i, avahiCache), i, name, deadlineMs)
        : startZeroconf(lab, i, name);
  if (tool === 'avahi') {
    // The buses are the hosts' system buses: up before the measurement, ten at a time (not timed).
    for (let i = 0; i <= n; i += 10) {
      const batch = Array.from({ length: Math.min(10, n + 1 - i) }, (_, k) => i + k);
      await Promise.all(batch.map((j) => avahiNodeOf(lab, j, avahiCache).startBus()));
    }
  }
  const boot = tool !== 'peerhub' ? undefined : o.firstBoot ? 'first' : 'later';
  if (boot) await prepareBoot(lab, n, boot);
  const res: FleetRun = {
    tool,
    n,
    date: new Date().toISOString(),
    together: {
      complete: false,
      allMs: null,
      hubsComplete: 0,
      minSeen: 0,
      readyCount: 0,
      deadlineS: o.deadlineS,
      ...(boot ? { boot } : {}),
    },
  };
  const members: Member[] = [];
  try {
    // (b) together
    const t0 = performance.now();
    for (let i = 0; i < n; i++) members.push(start(i, names[i] as string));
    const trace = new CpuTrace(() => members.flatMap((m) => m.pids()));
    const [seen, readies] = await Promise.all([
      Promise.all(
        members.map((m) =>
          m.seenAll(
            new Set(names.filter((x) => x !== m.name)),
            n - 1,
            t0,
            deadlineMs - (performance.now() - t0),
          ),
        ),
      ),
      Promise.all(members.map((m) => m.ready(deadlineMs))),
    ]);
    const done = seen.map((s) => s.t).filter((t): t is number => t !== null);
    const readyMs = readies.map((r, k) => (r === null ? null : r - (members[k] as Member).spawnedAt));
    res.together = {
      complete: done.length === n,
      allMs: done.length === n ? Math.round(Math.max(...done) - t0) : null,
      hubsComplete: done.length,
      minSeen: Math.min(...seen.map((s) => s.seen)),
      perHubFromStart: summarize(
        seen.flatMap((s, k) => (s.t === null ? [] : [s.t - (members[k] as Member).spawnedAt])),
      ),
      ready: summarize(readyMs.filter((x): x is number => x !== null)),
      readyCount: readyMs.filter((x) => x !== null).length,
      deadlineS: o.deadlineS,
      ...(boot ? { boot } : {}),
    };
    const stuck = members.filter((_, k) => readies[k] === null || seen[k]?.t === null);
    if (stuck.length > 0) {
      res.together.problems = stuck
        .slice(0, 5)
        .map(
          (m) =>
            `${m.diag()}\nsaw ${m.nowSeen(new Set(names.filter((x) => x !== m.name)))}/${n - 1}; ready ${readies[members.indexOf(m)] !== null}`,
        );
      for (const p of res.together.problems) log(`fleet ${tool} ×${n}: not there: ${p}`);
    }
    log(
      `fleet ${tool} ×${n}: together ${res.together.complete ? `every hub saw all after ${res.together.allMs} ms` : `incomplete at the deadline: ${done.length}/${n} hubs saw all, fewest seen ${res.together.minSeen}/${n - 1}`}`,
    );
    // Whole: every hub lists all the others at the same time (one hub's "saw all" can be undone by a loss
    // before the last hub gets there). Wait for it until the deadline, then read the first such time.
    const expectedOf = (m: Member) => new Set(names.filter((x) => x !== m.name));
    while (performance.now() - t0 < deadlineMs && !members.every((m) => m.nowSeen(expectedOf(m)) >= n - 1)) {
      await sleep(500);
    }
    const whole = wholeAt(
      members.map((m) => m.sightings()),
      members.map(expectedOf),
    );
    const wholeUntil = whole ?? performance.now();
    res.together.cpu = trace.until(t0, wholeUntil);
    trace.stop();
    const c = res.together.cpu;
    log(
      `fleet ${tool} ×${n}: CPU over the first ${c.untilMs} ms: hubs ${c.hubsCoreS} core-s, machine ${c.machineCoreS} of ${Math.round((c.cores * c.untilMs) / 1000)} (${c.cores} cores)`,
    );
    const removals = (from: number, to: number) =>
      members.reduce(
        (acc, m) =>
          acc + m.sightings().filter((x) => x.s.kind === 'remove' && x.t >= from && x.t <= to).length,
        0,
      );
    res.together.wholeMs = whole === null ? null : Math.round(whole - t0);
    res.together.lostBeforeWhole = removals(t0, wholeUntil);
    if (tool === 'peerhub') {
      const reasons: Record<string, number> = {};
      for (const m of members)
        for (const [k, v] of Object.entries(m.lostReasons?.(t0, wholeUntil) ?? {}))
          reasons[k] = (reasons[k] ?? 0) + v;
      res.together.lostReasons = reasons;
    }
    log(
      `fleet ${tool} ×${n}: ${whole === null ? `never whole by the deadline` : `whole (every hub listing all others at once) after ${res.together.wholeMs} ms`}; ${res.together.lostBeforeWhole} peers lost on the way${res.together.lostReasons ? ` ${JSON.stringify(res.together.lostReasons)}` : ''}`,
    );

    // (c) steady state
    await sleep(settleFor(o, n) * 1000);
    const counters = new MdnsCounters(
      lab,
      Array.from({ length: n }, (_, i) => i),
    );
    await counters.reset();
    const pids = members.flatMap((m) => m.pids());
    const cpu0 = new Map(pids.map((p) => [p, cpuTicksOr0(p)]));
    const w0 = performance.now();
    await sleep(o.windowS * 1000);
    const counts = await counters.read();
    const wall = (performance.now() - w0) / 1000;
    const cpuS = pids.reduce((acc, p) => acc + (cpuTicksOr0(p) - (cpu0.get(p) ?? 0)), 0) / CLK_TCK;
    const rssMB = pids.reduce((acc, p) => acc + (rssKB(p) || 0), 0) / 1024;
    const rates = Array.from({ length: n }, (_, i) => ((counts[i] ?? 0) / wall) * 60);
    const total = rates.reduce((a, b) => a + b, 0);
    // Still all there? (each hub's live sightings: a fresh counter over everything it reported)
    const listed = members.map((m) => m.nowSeen(expectedOf(m)));
    const still = listed.filter((k) => k >= n - 1);
    res.packets = {
      windowS: Math.round(wall),
      perHubPerMin: summarize(rates) as Summary,
      meanPerHubPerMin: Math.round((total / n) * 100) / 100,
      totalPerMin: Math.round(total * 10) / 10,
      cpuPercentPerHub: Math.round(((cpuS / wall) * 100 * 1000) / n) / 1000,
      rssMBPerHub: Math.round((rssMB / n) * 10) / 10,
      stillSeenAll: still.length,
      lostAfterWhole: whole === null ? undefined : removals(whole, performance.now()),
      fewestListed: Math.min(...listed),
    };
    log(
      `fleet ${tool} ×${n}: ${res.packets.meanPerHubPerMin} mDNS packets/min per hub (max ${res.packets.perHubPerMin.max}) over ${res.packets.windowS} s; CPU ${res.packets.cpuPercentPerHub} % per hub; at its end ${still.length}/${n} hubs list all others (fewest ${res.packets.fewestListed}), ${res.packets.lostAfterWhole ?? '—'} peers lost since whole`,
    );

    // (a) a joiner
    const fromStart: number[] = [];
    const fromReady: number[] = [];
    let failures = 0;
    const jname = tool === 'peerhub' ? 'FJoin' : tool === 'avahi' ? 'FAJoin' : 'FZJoin';
    for (let k = 0; k < o.joinSamples; k++) {
      // PEERHUB_FLEET_CAPTURE=<dir>: a packet capture on the joiner's node for each sample (diagnosis).
      const captureDir = process.env.PEERHUB_FLEET_CAPTURE;
      const capture = captureDir
        ? lab.spawn(
            n,
            'tshark',
            [
              '-q',
              '-i',
              'eth0',
              '-f',
              'udp port 5353',
              '-w',
              join(captureDir, `${tool}-${n}-join${k + 1}.pcapng`),
            ],
            { name: `capture${k}` },
          )
        : null;
      if (capture) await sleep(2_000);
      const tj = performance.now();
      const j = start(n, jname);
      const [s, r] = await Promise.all([j.seenAll(new Set(names), n, tj, 60_000), j.ready(60_000)]);
      if (s.t === null || r === null) {
        failures++;
        log(
          `fleet ${tool} ×${n}: joiner ${k + 1} saw ${s.seen}/${n} in 60 s (ready ${r !== null}); missing ${s.missing?.join(',') ?? '?'}\n${j.diag()}`,
        );
        if (j.debug) log(await j.debug().catch((e: unknown) => String(e)));
      } else {
        fromStart.push(s.t - j.spawnedAt);
        fromReady.push(s.t - r);
      }
      await j.stop();
      await sleep(3_000); // its goodbyes are through
      await capture?.stop('SIGINT');
    }
    res.join = {
      fromStart: summarize(fromStart),
      fromReady: summarize(fromReady),
      failures,
      samples: o.joinSamples,
    };
    log(
      `fleet ${tool} ×${n}: a joiner saw all ${n} after p50 ${res.join.fromStart?.p50} ms from its start, ${res.join.fromReady?.p50} ms from ready (${failures} failures)`,
    );
  } catch (err) {
    res.error = err instanceof Error ? err.message.slice(0, 2000) : String(err);
    log(`fleet ${tool} ×${n}: ${res.error}`);
  } finally {
    await Promise.all(members.map((m) => m.stop().catch(() => undefined)));
    await sleep(2_000);
  }
  return res;
}

export async function runFleetBench(o: FleetOptions): Promise<number> {
  if (!(await labAvailable())) {
    console.error(`bench: ${LAB_SKIP}`);
    return 2;
  }
  if (o.tools.includes('peerhub') && !agentBuilt()) {
    console.error(`bench: agent not built (${agentCliPath()}): run npm run build`);
    return 2;
  }
  if (o.sizes.length === 0 || o.tools.length === 0) {
    console.error('bench: --fleet needs sizes 2..109 and --fleet-tools peerhub,avahi,zeroconf');
    return 2;
  }
  const started = new Date();
  const maxN = Math.max(...o.sizes);
  try {
    return await withTeardown(async (t) => {
      const lab = await createLab(t, { hubs: maxN + 1 });
      log(
        `fleet: lab ${lab.id} (${maxN + 1} nodes), sizes ${o.sizes.join(',')}, tools ${o.tools.join(',')}, settle ${o.sizes.map((n) => `${settleFor(o, n)} s`).join('/')}, window ${o.windowS} s`,
      );
      const runs: FleetRun[] = [];
      const avahiCache = new Map<number, AvahiNode>();
      for (const n of o.sizes) {
        for (const tool of o.tools) {
          const r0 = performance.now();
          runs.push(await runOne(lab, tool, n, o, avahiCache));
          log(`fleet ${tool} ×${n}: took ${Math.round((performance.now() - r0) / 1000)} s`);
        }
      }
      console.log(fleetTable(runs));
      for (const r of runs) r.date = started.toISOString(); // this invocation
      // Keep the other tool × size runs of the file (a quick run of one size does not erase the others).
      let kept: FleetRun[] = [];
      try {
        const old = JSON.parse(readFileSync(o.out, 'utf8')) as { runs?: FleetRun[] };
        kept = (old.runs ?? []).filter((r) => !runs.some((x) => x.tool === r.tool && x.n === r.n));
      } catch {
        // no earlier file
      }
      const all = [...kept, ...runs].sort(
        (a, b) => a.n - b.n || o.tools.indexOf(a.tool) - o.tools.indexOf(b.tool),
      );
      writeJson(o.out, {
        date: started.toISOString(),
        durationS: Math.round((Date.now() - started.getTime()) / 1000),
        machine: machine(),
        config: { ...o, out: undefined },
        units: 'milliseconds unless named; p50/p99 nearest-rank',
        runs: all,
        notes: FLEET_NOTES,
      });
      return 0;
    });
  } catch (err) {
    console.error(err instanceof Error ? err.stack : err);
    return 1;
  }
}

function fleetTable(runs: readonly FleetRun[]): string {
  const head = `${'tool'.padEnd(10)}${'N'.padEnd(5)}${'together: whole (lost)'.padEnd(26)}${'join: start / ready ms p50'.padEnd(30)}${'pkts/min/hub'.padEnd(14)}CPU %/hub`;
  return [
    head,
    ...runs.map((r) => {
      const tg =
        r.together.wholeMs != null
          ? `${r.together.wholeMs} ms (${r.together.lostBeforeWhole ?? 0})`
          : `no (${r.together.hubsComplete}/${r.n} hubs)`;
      const j = r.join ? `${r.join.fromStart?.p50 ?? '—'} / ${r.join.fromReady?.p50 ?? '—'}` : '—';
      return `${r.tool.padEnd(10)}${String(r.n).padEnd(5)}${tg.padEnd(26)}${j.padEnd(30)}${String(r.packets?.meanPerHubPerMin ?? '—').padEnd(14)}${r.packets?.cpuPercentPerHub ?? '—'}${r.error ? `  error: ${r.error.split('\n')[0]}` : ''}`;
    }),
  ].join('\n');
}

export const FLEET_NOTES = [
  'N hubs per tool on N lab nodes (own network namespace each, one bridge), 2 cores shared by all of them and by the observers.',
  'together: all N spawned in one go (nothing staggered); peerhub hubs are provisioned (each identity — root and TLS keys — made before the clock starts by the agent\'s own code, as a first boot leaves it: hubs booting together after a power cut) unless the run says first boot (--fleet-first-boot: empty data directories, every agent makes its keys while the others start); a hub is done when it lists (resolved) all N − 1 others; "every hub saw all" (allMs) is from the first spawn until the last hub was done, each at its own moment; "whole" (wholeMs) is from the first spawn until every hub listed all others at the same moment (a loss after a hub was done undoes it), with the peers lost on the way (removals on the hubs\' streams; peerhub: by peer:lost reason).',
  "together, CPU: the hubs' processes (as counted for the steady window) and the whole machine (/proc/stat), sampled every second from the first spawn to the first sample at or after whole (or the deadline), in core-seconds, against cores × that time: a start that used all of it was bound by the CPU of this machine (every hub shares it), not by the protocol's timing.",
  'steady window: its length (windowS, in the run\'s configuration) sets how far its phase can move the packet rate: refresh rounds are periodic (peerhub: each hub answers once per round, a round every ≈ 48 s — 80–82 % of its 60 s TTL), a window holds a whole number of them ± 1, so ± 60/W packets/min per hub for a W s window (± 1 at 60 s, runs before 2026-12-03 18:00 UTC; ± 0.25 at 240 s, the default since). "lost since whole" counts removals from whole to the end of the window (a fleet that stays whole loses none); "still" is how many hubs list all others at the end.',
  'join: one more hub next to the N running ones, stopped gracefully between samples; "from start" is from its process spawn, "from ready" from its ready (peerhub: agent:ready event; avahi: avahi-publish established, the daemon started on an already running bus; zeroconf: register_service returned). Negative: it had seen them all before it was ready.',
  'packets: nftables counters in the switch namespace, one per port, for UDP to port 5353 entering the bridge (each hub’s own mDNS: queries, answers, announcements, goodbyes), over the window after the settle time; CPU and RSS are those of the tool’s processes (peerhub: the agent; avahi: avahi-daemon + its dbus-daemon, not the avahi-publish/avahi-browse clients; zeroconf: the python process) per hub.',
  'peerhub event times: arrival here of the hub’s control-API event stream, except events from before this process could connect (the socket opens after the first announcement), which carry the hub’s own time (same machine clock).',
];
