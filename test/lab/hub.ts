/** One peerhub agent in a lab node, driven through its CLI like a user would. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Lab, LabNode } from './harness.js';
import { agentCliPath, unitNodeFlags } from './paths.js';
import { run, waitFor, type Exit, type RunResult, type Stream, type WaitOptions } from './proc.js';

// ---- the agent contract (as much as the lab relies on) ----

export interface HubStatus {
  id: string;
  shortId: string;
  peerName: string;
  nickname: string;
  scope: string;
  presence: { status: string; text: string; seq: number };
  mdns: { instance: string | null; host: string; backend: string };
  uptimeMs: number;
  counters: Record<string, number>;
  [k: string]: unknown;
}

export interface PeerRow {
  instance: string;
  id: string | null;
  nickname: string;
  status: string;
  seq: number;
  endpoints: string[];
  wellFormed: boolean;
  host: string | null;
  port: number | null;
  lastSeen: number;
  /** The TLS handshake proved the id (issue 3). */
  verified?: boolean;
  /** Someone announced this id with another key (issue 3). */
  spoof?: boolean;
  /** One of my contacts (issue 3). */
  contact?: boolean;
  [k: string]: unknown;
}

/** `contacts list|show --json` (issue 3). */
export interface ContactRow {
  id: string;
  nickname: string;
  displayName: string;
  email: string;
  endpoints: string[];
  subscription: 'allowed' | 'blocked';
  verified: boolean; // the owner confirmed the verification code
  online: boolean;
  presence: { status: string; text: string; seq: number } | null;
  [k: string]: unknown;
}

/** A hub's identity files (`<data-dir>/identity/`): root and TLS leaf (signed by the root). */
export interface IdentityFiles {
  dir: string;
  rootCert: string;
  rootKey: string;
  tlsCert: string;
  tlsKey: string;
}

export interface WatchEvent {
  id: number | string;
  time: number | string;
  type: string;
  data: Record<string, unknown> & { reason?: string; peer?: PeerRow };
}

// ---- collaboration (issue 4): what the CLI prints with --json (the control API's bodies) ----

export type InvitationStateName = 'pending' | 'accepted' | 'declined' | 'expired' | 'cancelled' | 'failed';

/** `invitations --json` rows. */
export interface InvitationRow {
  id: string;
  session: string;
  peer: string; // the other side's peer id (inviter for "in", invitee for "out")
  name: string;
  direction: 'in' | 'out';
  state: InvitationStateName;
  appId?: string;
  message: string;
  data?: string;
  createdAt?: number;
  expiresAt?: number;
  answeredAt?: number;
  reason?: string;
  delivery?: 'sending' | 'delivered' | 'undeliverable';
  [k: string]: unknown;
}

/** `accept <id> --json`: the invitation and, accepted, joining the host's session. */
export interface AcceptRow extends InvitationRow {
  joined: boolean;
  joinError?: string;
  launched?: { appId: string; pid?: number; error?: string };
}

/** `invite <peer...> --json`. */
export interface InviteResult {
  session: string;
  invitations: InvitationRow[];
}

/** `host list --json` rows. */
export interface HostRequestRow {
  id: string;
  direction: 'in' | 'out';
  peer: string;
  name: string;
  appId?: string;
  message: string;
  state: 'pending' | 'accepted' | 'declined' | 'expired' | 'failed';
  session?: string;
  reason?: string;
  [k: string]: unknown;
}

/** `host request <peer> --json`: the host's answer. */
export interface HostRequestResult {
  id: string;
  peer: string;
  state: 'accepted' | 'declined' | 'expired';
  session?: string;
  reason?: string;
}

/** Host side: how a session's invitations stand (peer ids). */
export interface InvitationTally {
  accepted: string[];
  declined: string[];
  noResponse: string[];
  failed: string[];
}

/** `session list --json` rows. */
export interface SessionRow {
  id: string;
  host: string;
  role: 'host' | 'member';
  state: string; // host: open|ended; member: joined|left|ended|host-lost
  appId?: string;
  seq: number;
  members: Array<{ id: string; name: string; [k: string]: unknown }>;
  invitations?: InvitationTally;
  membership?: { certPem: string; chainPem: string[]; expiresAt: number };
  [k: string]: unknown;
}

export interface SessionMessageRow {
  seq: number;
  from: string;
  text: string;
  at: number;
}

/** `session show <id> --json`. */
export interface SessionDetailRow extends SessionRow {
  messages: SessionMessageRow[];
}

/** `policy --json`. */
export interface PolicyRow {
  invite: { mode: string; until?: number; [k: string]: unknown };
  host: string;
  contactsOnActivity: string;
  [k: string]: unknown;
}

export interface HubOptions {
  nickname?: string; // default `Hub <i>`
  /** mDNS host label (config `hostname`). Default: unique per node, since namespaces share the UTS hostname. null: agent default. */
  hostname?: string | null;
  /** Extra `[presence]` keys, e.g. `{ ttl_host: 8, ttl_service: 8 }`. */
  presence?: Record<string, string | number | boolean>;
  configToml?: string; // appended to the generated config file
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Node flags before the agent's script; default: the systemd unit's (unitNodeFlags). */
  nodeFlags?: string[];
  logLevel?: string; // PEERHUB_LOG_LEVEL, default 'debug'
  readyTimeout?: number; // ms, default 60 s (a generous deadline: agents start slowly on a loaded 2-core machine)
  waitReady?: boolean; // default true
}

/** The agent's data directory on a lab node (identity, contacts, state): known before the hub starts. */
export function hubDataDir(node: Pick<LabNode, 'dir'>): string {
  return join(node.dir, 'hub', 'data');
}

export class Hub {
  readonly index: number;
  readonly nickname: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly socket: string;
  readonly configPath: string;
  agent: Stream | null = null;
  startedAt = 0;

  constructor(
    private readonly lab: Lab,
    readonly node: LabNode,
    private readonly opts: HubOptions,
  ) {
    this.index = node.index;
    this.nickname = opts.nickname ?? `Hub ${node.index}`;
    this.dir = join(node.dir, 'hub');
    this.dataDir = hubDataDir(node);
    this.socket = join(this.dir, 'control.sock');
    this.configPath = join(this.dir, 'peerhub.toml');
  }

  get address(): string {
    return this.node.address;
  }

  get pid(): number | undefined {
    return this.agent?.pid;
  }

  get running(): boolean {
    return this.agent?.running ?? false;
  }

  /** The mDNS host label the harness configured (null: agent default). */
  get hostname(): string | null {
    if (this.opts.hostname === null) return null;
    return this.opts.hostname ?? `${this.lab.id.replace(/^phlab-\d+-/, 'phl')}-hub${this.index}`;
  }

  async start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await writeFile(this.configPath, this.configText());
    const args = [
      ...(this.opts.nodeFlags ?? unitNodeFlags()),
      agentCliPath(),
      'agent',
      '--data-dir',
      this.dataDir,
      '--nickname',
      this.nickname,
      '--classifier',
      'lab',
      '--control-socket',
      this.socket,
      '--port',
      '7443',
      '--interface',
      'eth0',
      '--config',
      this.configPath,
      ...(this.opts.args ?? []),
    ];
    this.startedAt = performance.now();
    this.agent = this.lab.spawn(this.index, process.execPath, args, {
      name: `hub${this.index}`,
      env: { ...process.env, PEERHUB_LOG_LEVEL: this.opts.logLevel ?? 'debug', ...this.opts.env },
      logFile: join(this.dir, 'agent.log'),
      maxLogLines: 600,
    });
    if (this.opts.waitReady === false) return;
    await this.ready(this.opts.readyTimeout ?? 60_000);
  }

  /** Resolve once `status --json` answers; fail early if the agent exits. */
  async ready(timeout = 60_000): Promise<HubStatus> {
    const agent = this.agent;
    if (!agent) throw new Error(`hub ${this.index} not started`);
    return waitFor(
      async () => {
        if (!agent.running)
          throw new Error(`agent exited ${JSON.stringify(await agent.exited)}:\n${agent.tail(30)}`);
        const r = await this.cli(['status', '--json'], 10_000);
        return r.code === 0 ? r.json<HubStatus>() : null;
      },
      { timeout, interval: 200, message: `hub ${this.index} ready` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${agent.tail(30)}`);
    });
  }

  private configText(): string {
    // multicast-dns unless a test asks otherwise: with `auto`, a lab hub could reach a host's own
    // avahi-daemon through the system bus socket and publish outside the lab.
    const presence: Record<string, string | number | boolean> = {
      backend: 'multicast-dns',
      ...this.opts.presence,
    };
    const host = this.hostname;
    if (host !== null && presence.hostname === undefined) presence.hostname = host;
    const lines = ['[presence]'];
    for (const [k, v] of Object.entries(presence))
      lines.push(`${k} = ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
    return lines.join('\n') + '\n' + (this.opts.configToml ?? '') + '\n';
  }

  /** `peerhub --socket <sock> …args` from the root namespace (the socket is a file). */
  cli(args: readonly string[], timeoutMs = 15_000): Promise<RunResult> {
    return run(process.execPath, [agentCliPath(), '--socket', this.socket, ...args], { timeoutMs });
  }

  /** Run a CLI command that prints JSON; throws (with stderr) unless it exits 0. */
  async cliJson<T>(args: readonly string[]): Promise<T> {
    const r = await this.cli(args);
    if (r.code !== 0)
      throw new Error(`peerhub ${args.join(' ')} on hub ${this.index}: code ${r.code}: ${r.stderr.trim()}`);
    return r.json<T>();
  }

  status(): Promise<HubStatus> {
    return this.cliJson<HubStatus>(['status', '--json']);
  }

  peers(): Promise<PeerRow[]> {
    return this.cliJson<PeerRow[]>(['peers', '--json']);
  }

  async setPresence(state: string, text?: string): Promise<RunResult> {
    const r = await this.cli(['presence', 'set', state, ...(text === undefined ? [] : [text])]);
    if (r.code !== 0) throw new Error(`presence set ${state} on hub ${this.index}: ${r.stderr.trim()}`);
    return r;
  }

  /** Paths of the identity files (they exist once the agent has started). */
  identity(): IdentityFiles {
    const dir = join(this.dataDir, 'identity');
    return {
      dir,
      rootCert: join(dir, 'root.cert.pem'),
      rootKey: join(dir, 'root.key.pem'),
      tlsCert: join(dir, 'tls.cert.pem'),
      tlsKey: join(dir, 'tls.key.pem'),
    };
  }

  /** `peerhub contacts …args` (any exit code). */
  contactsCli(args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
    return this.cli(['contacts', ...args], timeoutMs);
  }

  /** `peerhub contacts list --json` (or `contacts --json` if the CLI has no `list`). */
  async contacts(): Promise<ContactRow[]> {
    const r = await this.cli(['contacts', 'list', '--json']);
    if (r.code === 0) return r.json<ContactRow[]>();
    if (/unknown command|too many arguments/i.test(r.stderr)) return this.cliJson(['contacts', '--json']);
    throw new Error(`peerhub contacts list --json on hub ${this.index}: code ${r.code}: ${r.stderr.trim()}`);
  }

  /** `peerhub contacts show <ref> --json`. */
  contact(ref: string): Promise<ContactRow> {
    return this.cliJson<ContactRow>(['contacts', 'show', ref, '--json']);
  }

  /** Poll `contacts show <ref> --json` until it matches; returns it. */
  waitContact(ref: string, pred: (c: ContactRow) => boolean, opts: WaitOptions = {}): Promise<ContactRow> {
    return waitFor(
      async () => {
        const c = await this.contact(ref);
        return pred(c) ? c : null;
      },
      { message: `hub ${this.index}: contact ${ref} matching ${pred.toString().slice(0, 120)}`, ...opts },
    );
  }

  // ---- collaboration (issue 4) ----

  /** `peerhub invitations [--in|--out] [--state S] [--session ID] --json`. */
  invitations(
    filter: { direction?: 'in' | 'out'; state?: InvitationStateName; session?: string } = {},
  ): Promise<InvitationRow[]> {
    const args = ['invitations'];
    if (filter.direction) args.push(`--${filter.direction}`);
    if (filter.state) args.push('--state', filter.state);
    if (filter.session) args.push('--session', filter.session);
    return this.cliJson<InvitationRow[]>([...args, '--json']);
  }

  /** Poll `invitations --json` (with `filter`) until a row matches; returns it. */
  waitInvitation(
    pred: (i: InvitationRow) => boolean,
    filter: { direction?: 'in' | 'out'; session?: string } = {},
    opts: WaitOptions = {},
  ): Promise<InvitationRow> {
    return waitFor(async () => (await this.invitations(filter)).find(pred), {
      message: `hub ${this.index}: invitation matching ${pred.toString().slice(0, 120)}`,
      ...opts,
    });
  }

  /** `peerhub host list [--in|--out] [--state S] --json`. */
  hostRequests(
    filter: { direction?: 'in' | 'out'; state?: HostRequestRow['state'] } = {},
  ): Promise<HostRequestRow[]> {
    const args = ['host', 'list'];
    if (filter.direction) args.push(`--${filter.direction}`);
    if (filter.state) args.push('--state', filter.state);
    return this.cliJson<HostRequestRow[]>([...args, '--json']);
  }

  /** Poll `host list --json` (with `filter`) until a row matches; returns it. */
  waitHostRequest(
    pred: (r: HostRequestRow) => boolean,
    filter: { direction?: 'in' | 'out' } = {},
    opts: WaitOptions = {},
  ): Promise<HostRequestRow> {
    return waitFor(async () => (await this.hostRequests(filter)).find(pred), {
      message: `hub ${this.index}: host request matching ${pred.toString().slice(0, 120)}`,
      ...opts,
    });
  }

  /** `peerhub session list --json`. */
  sessions(): Promise<SessionRow[]> {
    return this.cliJson<SessionRow[]>(['session', 'list', '--json']);
  }

  /** `peerhub session show <id> --json`. */
  session(id: string): Promise<SessionDetailRow> {
    return this.cliJson<SessionDetailRow>(['session', 'show', id, '--json']);
  }

  /** Poll `session show <id> --json` until it matches; returns it. */
  waitSession(
    id: string,
    pred: (s: SessionDetailRow) => boolean,
    opts: WaitOptions = {},
  ): Promise<SessionDetailRow> {
    return waitFor(
      async () => {
        const s = await this.session(id);
        return pred(s) ? s : null;
      },
      { message: `hub ${this.index}: session ${id} matching ${pred.toString().slice(0, 120)}`, ...opts },
    );
  }

  /** `peerhub policy --json`. */
  policy(): Promise<PolicyRow> {
    return this.cliJson<PolicyRow>(['policy', '--json']);
  }

  /** `peerhub policy set …args`; throws (with stderr) unless it exits 0. */
  async setPolicy(args: readonly string[]): Promise<RunResult> {
    const r = await this.cli(['policy', 'set', ...args]);
    if (r.code !== 0)
      throw new Error(`peerhub policy set ${args.join(' ')} on hub ${this.index}: ${r.stderr.trim()}`);
    return r;
  }

  /**
   * `peerhub watch --json` (run in the hub's namespace so a sweeper finds it): timestamped events; with
   * `since`, the buffered events after that id are replayed first (0: all of them).
   */
  watch(since?: number): Stream<WatchEvent> {
    const replay = since === undefined ? [] : ['--since', String(since)];
    return this.lab.spawn<WatchEvent>(
      this.index,
      process.execPath,
      [agentCliPath(), '--socket', this.socket, 'watch', '--json', ...replay],
      {
        name: `watch${this.index}`,
        parse: (l) => (l.startsWith('{') ? (JSON.parse(l) as WatchEvent) : undefined),
      },
    );
  }

  /** Poll `peers --json` until a row matches; returns it. */
  waitPeer(pred: (p: PeerRow) => boolean, opts: WaitOptions = {}): Promise<PeerRow> {
    return waitFor(async () => (await this.peers()).find(pred), {
      message: `hub ${this.index}: peer matching ${pred.toString().slice(0, 120)}`,
      ...opts,
    });
  }

  /** Poll `peers --json` until no row matches. */
  async waitNoPeer(pred: (p: PeerRow) => boolean, opts: WaitOptions = {}): Promise<void> {
    await waitFor(async () => !(await this.peers()).some(pred), {
      message: `hub ${this.index}: no peer matching ${pred.toString().slice(0, 120)}`,
      ...opts,
    });
  }

  /** SIGTERM and wait (SIGKILL after 10 s): exit code, signal and how long it took. */
  async stop(): Promise<Exit & { ms: number }> {
    if (!this.agent) throw new Error(`hub ${this.index} not started`);
    return this.agent.stop('SIGTERM', 10_000);
  }

  /** kill -9. */
  async kill(): Promise<Exit> {
    if (!this.agent) throw new Error(`hub ${this.index} not started`);
    this.agent.proc.kill('SIGKILL');
    return this.agent.exited;
  }
}

/** Find a peer row by peer id (or instance name). */
export function findPeer(
  rows: readonly PeerRow[],
  key: { id?: string; instance?: string },
): PeerRow | undefined {
  return rows.find(
    (r) =>
      (key.id !== undefined ? r.id === key.id : true) &&
      (key.instance !== undefined ? r.instance === key.instance : true),
  );
}

/** Strip a trailing `.local` / `.local.` from a host name. */
export function hostLabel(host: string | null | undefined): string {
  return (host ?? '').replace(/\.local\.?$/, '');
}
