/**
 * The LAN lab: N nodes, each its own network namespace, on one bridge in a switch namespace.
 *
 *   const lab = await createLab(t, { hubs: 3 });   // t: tap Test (or anything with teardown())
 *   const a = await lab.startHub(0, { nickname: 'Alice' });
 *   await lab.waitFor(async () => (await b.peers()).some((p) => p.id === (await a.status()).id));
 *
 * Addresses are 10.77.X.(i+1)/16 with X per lab; nothing is sent outside the namespaces made here.
 * Names carry a per-lab prefix `phlab-<pid>-<rand>`; teardown (tap), process exit and signals clean
 * up processes, namespaces and temp dirs; a sweeper removes stale `phlab-*` namespaces whose owning
 * process is gone (never another live lab's).
 */
import { existsSync, rmSync, mkdirSync, cpSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AvahiNode } from './avahi.js';
import { Hub, type HubOptions } from './hub.js';
import { agentBuilt, agentCliPath, repoRoot } from './paths.js';
import { raiseNeighbourLimits, restoreLeftoverLimits, restoreNeighbourLimits } from './neighbours.js';
import { must, run, runSync, Stream, waitFor, type StreamOptions, type WaitOptions } from './proc.js';

export { waitFor, Stream, percentile, rssKB, type RunResult, type Stamped, type Exit } from './proc.js';
export { AvahiNode, type AvahiBrowseLine } from './avahi.js';
export {
  Hub,
  findPeer,
  hostLabel,
  type HubOptions,
  type ContactRow,
  type HubStatus,
  type IdentityFiles,
  type PeerRow,
  type WatchEvent,
} from './hub.js';
export { agentBuilt, agentCliPath, repoRoot } from './paths.js';

/** What `test/lab/peer_client.mjs request` prints. */
export interface PeerRequestResult {
  ok: boolean; // a response arrived
  status: number | null;
  body: unknown;
  ms: number | null;
  alpn: string | null;
  protocol: string | null;
  serverId: string | null; // peer id of the root the server's chain ends at
  error?: string;
  streamError?: string;
}

/** What `test/lab/peer_client.mjs storm` prints. */
export interface StormResult {
  n: number;
  secure: number; // handshakes completed
  refused: number;
  closedByServer: number; // closed by the server after the handshake (no or unwanted client certificate)
  pending: number; // still open at the deadline
  errors: Record<string, number>;
  ms: number;
}

/** Client credentials for peer_client.mjs: a TLS leaf, its key and the root that signed it. */
export interface PeerCredentials {
  cert: string;
  key: string;
  chain?: string;
}

export const LAB_SKIP = 'lab tests need root and network namespaces';

/** What createLab needs from a tap Test (the benchmark passes its own). */
export interface Teardown {
  teardown(fn: () => unknown): void;
  passing?(): boolean;
}

export interface LabOptions {
  hubs: number; // number of nodes (namespaces); a node may run a hub, avahi, zeroconf, …
}

export interface ZeroconfService {
  name: string;
  instance: string;
  server: string;
  port: number;
  addresses: string[];
  txt: Record<string, string | null>;
}

// ---- availability ----

let available: Promise<boolean> | null = null;
/** Root, `ip netns` usable (probe add/del), python3 for the helpers. Cached. */
export function labAvailable(): Promise<boolean> {
  available ??= (async () => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
    const probe = `phlab-${process.pid}-0000-probe`; // sweepable if we die in between
    const add = await run('ip', ['netns', 'add', probe], { timeoutMs: 10_000 }).catch(() => null);
    if (!add || add.code !== 0) return false;
    await run('ip', ['netns', 'del', probe], { timeoutMs: 10_000 });
    return existsSync('/usr/bin/python3');
  })();
  return available;
}

/**
 * Why a lab test file must skip, or null. Without a built agent it skips locally, but not under CI
 * (CI=true): there a missing build must fail loudly, not hide behind a skip.
 */
export async function labSkipReason(opts: { agent?: boolean } = {}): Promise<string | null> {
  if (!(await labAvailable())) return LAB_SKIP;
  if (opts.agent !== false && !agentBuilt() && !process.env.CI) {
    return `the agent is not built (${agentCliPath()} missing): run npm run build`;
  }
  return null;
}

// ---- cleanup registry (teardown, exit, signals) ----

const live = new Set<Lab>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const lab of live) lab.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      for (const lab of live) lab.destroySync();
      process.off(sig, handler);
      // Alone: re-raise so the process dies of the signal as it would have; otherwise the others decide.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

const NS_RE = /^phlab-(\d+)-([0-9a-f]{4})-/;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listNamespaces(): string[] {
  return runSync('ip', ['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Kill every process in the namespace, then delete it. */
function destroyNamespaceSync(ns: string): void {
  for (const p of runSync('ip', ['netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  runSync('ip', ['netns', 'del', ns]);
}

/** Remove namespaces (and temp dirs) of labs whose owning process is dead. Only `phlab-*` names. */
export function sweepStaleLabs(): string[] {
  const swept: string[] = [];
  for (const ns of listNamespaces()) {
    const m = NS_RE.exec(ns);
    if (!m || pidAlive(Number(m[1]))) continue;
    destroyNamespaceSync(ns);
    rmSync(join(tmpdir(), `phlab-${m[1]}-${m[2]}`), { recursive: true, force: true });
    swept.push(ns);
  }
  return swept;
}

// ---- the lab ----

export interface LabNode {
  index: number;
  ns: string;
  address: string; // 10.77.X.Y
  veth: string; // switch-side interface (in the switch namespace)
  dir: string; // per-node temp dir
}

export async function createLab(t: Teardown, opts: LabOptions): Promise<Lab> {
  if (opts.hubs < 1 || opts.hubs > 110) throw new Error(`hubs must be 1..110, got ${opts.hubs}`);
  installExitHandlers();
  sweepStaleLabs();
  for (const p of restoreLeftoverLimits()) console.error(`# lab: ${p} put back (a killed lab had raised it)`);
  const lab = new Lab(opts.hubs, t);
  live.add(lab);
  t.teardown(() => lab.close());
  await lab.build();
  return lab;
}

export class Lab {
  readonly id: string; // phlab-<pid>-<rand>
  readonly subnet: number; // X in 10.77.X.Y
  readonly dir: string;
  readonly switchNs: string;
  readonly nodes: LabNode[];
  private readonly hubs = new Map<number, Hub>();
  private readonly avahis = new Map<number, AvahiNode>();
  private readonly streams = new Set<Stream<unknown>>();
  private created: string[] = [];
  private closed = false;

  constructor(
    n: number,
    private readonly t: Teardown,
  ) {
    const rand = randomBytes(2);
    this.id = `phlab-${process.pid}-${rand.toString('hex')}`;
    this.subnet = 1 + (rand.readUInt16BE(0) % 254);
    this.dir = join(tmpdir(), this.id);
    this.switchNs = `${this.id}-sw`;
    this.nodes = Array.from({ length: n }, (_, i) => ({
      index: i,
      ns: `${this.id}-n${i}`,
      address: `10.77.${this.subnet}.${i + 1}`,
      veth: `v${i}`,
      dir: join(this.dir, `node${i}`),
    }));
  }

  /** Create the switch and the nodes. */
  async build(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    // The kernel's neighbour tables are shared by all namespaces (1,024 entries by default): see neighbours.ts.
    for (const p of raiseNeighbourLimits(this.nodes.length)) console.error(`# lab: could not raise ${p}`);
    const sw = this.switchNs;
    await this.addNs(sw);
    await must('ip', ['-n', sw, 'link', 'set', 'lo', 'up']);
    await must('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    await must('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    for (const n of this.nodes) {
      await mkdir(n.dir, { recursive: true });
      await this.addNs(n.ns);
      await must('ip', [
        '-n',
        sw,
        'link',
        'add',
        n.veth,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        n.ns,
      ]);
      await must('ip', ['-n', sw, 'link', 'set', n.veth, 'master', 'br0', 'up']);
      await must('ip', ['-n', n.ns, 'link', 'set', 'lo', 'up']);
      await must('ip', ['-n', n.ns, 'addr', 'add', `${n.address}/16`, 'dev', 'eth0']);
      await must('ip', ['-n', n.ns, 'link', 'set', 'eth0', 'up']);
      await must('ip', ['-n', n.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
    }
  }

  private async addNs(ns: string): Promise<void> {
    this.created.push(ns); // before: a half-made one is cleaned too
    await must('ip', ['netns', 'add', ns]);
  }

  node(i: number): LabNode {
    const n = this.nodes[i];
    if (!n) throw new Error(`no node ${i} in a lab of ${this.nodes.length}`);
    return n;
  }

  address(i: number): string {
    return this.node(i).address;
  }

  /** Namespaces this lab made (still existing or not). */
  namespaces(): string[] {
    return [...this.created];
  }

  /** Pids of every process the lab spawned that is still running. */
  livePids(): number[] {
    return [...this.streams].filter((s) => s.running && s.pid !== undefined).map((s) => s.pid as number);
  }

  /** Keep track of a long-running child (stopped at teardown). */
  track<T>(s: Stream<T>): Stream<T> {
    this.streams.add(s as Stream<unknown>);
    return s;
  }

  /** Run a command in node i's namespace, bounded. */
  exec(
    i: number,
    cmd: string,
    args: readonly string[] = [],
    opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
  ) {
    return run('ip', ['netns', 'exec', this.node(i).ns, cmd, ...args], opts);
  }

  /** Start a long-running command in node i's namespace (stopped at teardown). */
  spawn<T = string>(
    i: number,
    cmd: string,
    args: readonly string[],
    opts: Partial<StreamOptions<T>> = {},
  ): Stream<T> {
    return this.track(
      new Stream<T>('ip', ['netns', 'exec', this.node(i).ns, cmd, ...args], { name: `${cmd}@${i}`, ...opts }),
    );
  }

  /** One ICMP echo from node `from` to node `to` (test/lab/ping.py; no iputils-ping needed). */
  async ping(from: number, to: number, timeoutS = 2): Promise<boolean> {
    const r = await this.exec(
      from,
      '/usr/bin/python3',
      [join(repoRoot(), 'test/lab/ping.py'), this.address(to), '--timeout', String(timeoutS)],
      {
        timeoutMs: (timeoutS + 5) * 1000,
      },
    );
    return r.code === 0;
  }

  /** Take node i's cable out (switch side, as a real switch port going down). */
  async linkDown(i: number): Promise<void> {
    await must('ip', ['-n', this.switchNs, 'link', 'set', this.node(i).veth, 'down']);
  }

  async linkUp(i: number): Promise<void> {
    await must('ip', ['-n', this.switchNs, 'link', 'set', this.node(i).veth, 'up']);
  }

  waitFor<T>(fn: () => T | Promise<T>, opts?: WaitOptions): Promise<NonNullable<T>> {
    return waitFor(fn, opts);
  }

  // ---- hubs ----

  hub(i: number): Hub {
    const h = this.hubs.get(i);
    if (!h) throw new Error(`no hub started on node ${i}`);
    return h;
  }

  /** Is a hub running on node i? */
  running(i: number): boolean {
    return this.hubs.get(i)?.running ?? false;
  }

  /** Start a peerhub agent on node i (data dir kept across restarts on the same node). */
  async startHub(i: number, opts: HubOptions = {}): Promise<Hub> {
    const old = this.hubs.get(i);
    if (old?.running) throw new Error(`hub ${i} is already running`);
    const hub = new Hub(this, this.node(i), opts);
    this.hubs.set(i, hub);
    await hub.start();
    return hub;
  }

  // ---- avahi / zeroconf ----

  /** avahi-daemon (own dbus-daemon, private /run) in node i. */
  async startAvahi(i: number): Promise<AvahiNode> {
    const n = this.node(i);
    let a = this.avahis.get(i);
    if (!a) {
      a = new AvahiNode({
        ns: n.ns,
        index: i,
        dir: join(n.dir, 'avahi'),
        hostName: `${this.id.replace(/^phlab-\d+-/, 'phl')}-avahi${i}`,
        track: (s) => this.track(s),
        repo: repoRoot(),
      });
      this.avahis.set(i, a);
    }
    return a.start();
  }

  /** Browse and resolve with python3-zeroconf in node i (test/lab/zeroconf_resolve.py). */
  async zeroconf(i: number, args: readonly string[] = [], timeoutMs = 30_000): Promise<ZeroconfService[]> {
    const script = join(repoRoot(), 'test/lab/zeroconf_resolve.py');
    const r = await this.exec(i, '/usr/bin/python3', [script, '--interface', this.address(i), ...args], {
      timeoutMs,
    });
    if (r.code !== 0)
      throw new Error(`zeroconf_resolve failed (${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr}`);
    return r.json<ZeroconfService[]>();
  }

  // ---- peer API clients ----

  /**
   * Run test/lab/peer_client.mjs in node i's namespace (`mode`: request | storm | bench) against
   * `host`:7443 with `creds` (none: no client certificate) and `ca` (a root PEM file to verify the
   * server against; none: not verified). Returns its JSON.
   */
  async peerClient<T>(
    i: number,
    mode: 'request' | 'storm' | 'bench',
    host: string,
    opts: { creds?: PeerCredentials; ca?: string; args?: string[]; timeoutMs?: number } = {},
  ): Promise<T> {
    const c = opts.creds;
    const args = [
      join(repoRoot(), 'test/lab/peer_client.mjs'),
      mode,
      '--host',
      host,
      ...(c ? ['--cert', c.cert, '--key', c.key, ...(c.chain ? ['--chain', c.chain] : [])] : []),
      ...(opts.ca ? ['--ca', opts.ca] : []),
      ...(opts.args ?? []),
    ];
    const r = await this.exec(i, process.execPath, args, { timeoutMs: opts.timeoutMs ?? 30_000 });
    if (r.code !== 0)
      throw new Error(
        `peer_client ${mode} failed (${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr}`,
      );
    return r.json<T>();
  }

  /** peer_client.mjs request with a hub's TLS credentials (leaf + root chain). */
  peerRequest(
    i: number,
    host: string,
    opts: { creds?: PeerCredentials; ca?: string; method?: string; path?: string; bodyBytes?: number } = {},
  ): Promise<PeerRequestResult> {
    const args = ['--method', opts.method ?? 'GET', '--path', opts.path ?? '/v1/card'];
    if (opts.bodyBytes !== undefined) args.push('--body-bytes', String(opts.bodyBytes));
    return this.peerClient<PeerRequestResult>(i, 'request', host, { creds: opts.creds, ca: opts.ca, args });
  }

  /**
   * Announce a DNS-SD service from node i with python3-zeroconf (test/lab/zeroconf_publish.py); resolves
   * once it printed `registered`. Stopped at teardown (or `send('quit')` for a goodbye).
   */
  async zeroconfPublish(
    i: number,
    svc: { name: string; port: number; host: string; txt: string[]; type?: string },
  ): Promise<Stream> {
    const script = join(repoRoot(), 'test/lab/zeroconf_publish.py');
    const s = this.spawn(i, '/usr/bin/python3', [
      script,
      '--interface',
      this.address(i),
      '--name',
      svc.name,
      '--port',
      String(svc.port),
      '--host',
      svc.host,
      ...(svc.type ? ['--type', svc.type] : []),
      ...svc.txt,
    ]);
    await s.waitForLine(/^> (registered|conflict)/, 20_000).then((l) => {
      if (!l.includes('registered')) throw new Error(`zeroconf_publish ${svc.name}: ${l}`);
    });
    return s;
  }

  // ---- teardown ----

  /** Print diagnostics (on failure), stop everything, delete namespaces and temp dir. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const failed = this.t.passing ? !this.t.passing() : false;
    if (failed) this.dumpDiagnostics();
    await Promise.all([...this.hubs.values()].map((h) => h.agent?.stop('SIGTERM', 5_000)));
    await Promise.all([...this.streams].map((s) => s.stop('SIGTERM', 3_000)));
    this.destroySync();
  }

  /** Synchronous last resort (exit/signal handlers): SIGKILL everything, delete namespaces, rm temp dir. */
  destroySync(): void {
    for (const s of this.streams) {
      if (s.running) s.proc.kill('SIGKILL');
    }
    for (const ns of this.created) destroyNamespaceSync(ns);
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
    if (live.size === 0) restoreNeighbourLimits();
  }

  private dumpDiagnostics(): void {
    const keep = join(tmpdir(), 'peerhub-lab-logs', this.id);
    try {
      mkdirSync(keep, { recursive: true });
      cpSync(this.dir, keep, { recursive: true, filter: (src) => !src.endsWith('.sock') });
    } catch {
      // diagnostics are best effort
    }
    const parts = [`# lab ${this.id} failed; logs kept in ${keep}`];
    for (const s of this.streams)
      parts.push(`--- ${s.name} (pid ${s.pid}, running ${s.running})\n${s.tail(40)}`);
    console.error(parts.join('\n'));
  }
}
