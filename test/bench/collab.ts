/**
 * Collaboration benchmark (issue 4, "Figures"): invitations and session messages between real agents in
 * the lab, one host H (node 0) and up to 50 member hubs (nodes 1…). Prints a table; JSON into
 * docs/bench/collab.json.
 *
 *   npm run bench -- --only collab [--invites 100] [--accepts 50] [--cold 8] [--messages 30]
 *       [--members 20,50] [--batch 8] [--collab-log-level warn] [--collab-out docs/bench/collab.json]
 *   node dist/test/bench/collab.js [same options]
 *
 * Every figure comes from event streams with arrival timestamps, never from sleeps: this process holds
 * one `GET /v1/events` stream (NDJSON) open on every hub's control socket (what `peerhub watch --json`
 * reads, without a CLI process per hub in between) and stamps each line with performance.now() when it
 * arrives; control calls (`POST /v1/invitations`, …) go over the same sockets, timed from the moment
 * the request is written.
 *
 * 1. Invite round trip. t0 = H's `POST /v1/invitations` written; t1 = B's stream shows
 *    `invitation:received`; the bench answers at once on B (t1' = `POST …/decline` or `…/accept`
 *    written); t2 = H's stream shows `invitation:answered` for that id. Warm: B rotates over members,
 *    each after one unmeasured round (both peer-API sessions, H→B and B→H, open): an invitee takes
 *    10 invitations a minute from one inviter, bursts of 5, and the bench stays under that (a refused
 *    invitation is retried after 1 s, 2 s, 4 s…, which is not what this measures). Cold: the first invitation H ever
 *    sends to a member (a new mutual-TLS session H→B, and B→H for the answer), one sample per member
 *    not contacted yet. Accept also registers B with H (membership certificate) and attaches B's
 *    member stream; "joined" = t0 → H's `session:member-joined`. Rounds are paced (≥ 100 ms apart,
 *    ≥ 250 ms with accept).
 * 2. Fan-out. H invites N members into a new session (one call), each accepts (registration + member
 *    stream); then H posts messages (`POST /v1/sessions/:id/messages`) one at a time: latency per
 *    member = arrival of its `session:message` (that text) − post written.
 * 3. Memory of H: `GET /v1/status` `memory` (process.memoryUsage, MB) and VmRSS/VmHWM from /proc: idle
 *    (members verified, nothing sent), before any member registered (after the invite rounds), and
 *    with each fan-out session open (its members registered, its messages sent).
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import {
  agentBuilt,
  agentCliPath,
  createLab,
  labAvailable,
  LAB_SKIP,
  repoRoot,
  rssKB,
  percentile,
  waitFor,
  type Hub,
  type Lab,
  type Stamped,
  type Teardown,
  type WatchEvent,
} from '../lab/harness.js';
import { CLK_TCK, cpuTicksOr0, machineBusyTicks, waitForStamped } from '../lab/proc.js';
import { unitNodeFlags } from '../lab/paths.js';
import { summarize, type Summary } from './trust.js';

export interface CollabBenchOptions {
  invites: number; // warm decline rounds (measured)
  accepts: number; // warm accept rounds (measured)
  cold: number; // cold rounds: one per member never contacted
  messages: number; // messages per fan-out
  members: number[]; // fan-out sizes, e.g. [20, 50]
  batch: number; // agents started at a time
  logLevel: string; // the agents' PEERHUB_LOG_LEVEL
  out: string;
  log: (s: string) => void;
}

// ---- control API over the Unix socket ----

interface CallResult<T> {
  status: number;
  body: T;
  tSent: number; // performance.now() when the request was written
  tDone: number; // … when the whole response arrived
}

class ControlError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** One JSON call on a hub's control socket; rejects (with the body) unless 2xx. */
function call<T = unknown>(
  socketPath: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<CallResult<T>> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (data !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(data);
    }
    const req = request({ socketPath, path, method, headers, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const tDone = performance.now();
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // keep the text
        }
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          reject(
            new ControlError(`${method} ${path}: HTTP ${status}: ${text.slice(0, 500)}`, status, parsed),
          );
        } else resolve({ status, body: parsed as T, tSent, tDone });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    const tSent = performance.now();
    req.end(data);
  });
}

// ---- event streams (GET /v1/events, NDJSON), every line stamped on arrival ----

class EventFeed {
  readonly records: Stamped<WatchEvent>[] = [];
  /** Connections that ended or went silent without us closing them (agent side). */
  readonly drops: Array<{ afterS: number; why: string }> = [];
  private readonly bus = new EventEmitter();
  private req: ReturnType<typeof request> | null = null;
  private ended: string | null = null;
  private lastId = 0;
  private readonly seen = new Set<number>();
  /** Events the agent's live stream skipped, taken from its history (see fillGap). */
  gapsFilled = 0;
  private lastData = performance.now();
  private connectedAt = performance.now();
  private readonly watchdog: NodeJS.Timeout;

  private constructor(
    readonly name: string,
    private readonly socketPath: string,
  ) {
    this.bus.setMaxListeners(0);
    // The agent writes a heartbeat line every 15 s: a stream silent for 35 s is dead.
    this.watchdog = setInterval(() => {
      if (this.ended === null && performance.now() - this.lastData > 35_000) this.drop('silent for 35 s');
    }, 5_000);
    this.watchdog.unref();
  }

  /** Open the stream with the hub's buffered history (since=0): live once the response has begun. */
  static async open(socketPath: string, name: string): Promise<EventFeed> {
    const feed = new EventFeed(name, socketPath);
    await feed.connect();
    return feed;
  }

  private drop(why: string): void {
    this.drops.push({ afterS: Math.round((performance.now() - this.connectedAt) / 1000), why });
    const old = this.req;
    this.req = null;
    old?.destroy();
    setTimeout(() => void this.connect().catch(() => undefined), 100).unref();
  }

  private connect(timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`${this.name}: event stream not open within ${timeoutMs} ms`));
      }, timeoutMs);
      // One event already seen is replayed: the agent sends its headers with the first line, and a
      // reconnection must not wait for the next event or heartbeat (15 s) to know it is live.
      const path = `/v1/events?since=${Math.max(0, this.lastId - 1)}`;
      const req = request({ socketPath: this.socketPath, path, method: 'GET', agent: false }, (res) => {
        clearTimeout(timer);
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`${this.name}: GET /v1/events: HTTP ${res.statusCode}`));
          return;
        }
        this.connectedAt = this.lastData = performance.now();
        let rest = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const t = performance.now();
          this.lastData = t;
          rest += chunk;
          let nl: number;
          while ((nl = rest.indexOf('\n')) >= 0) {
            const line = rest.slice(0, nl).trim();
            rest = rest.slice(nl + 1);
            if (!line) continue; // heartbeat
            let value: WatchEvent;
            try {
              value = JSON.parse(line) as WatchEvent;
            } catch {
              continue;
            }
            const id = Number(value.id);
            if (this.seen.has(id)) continue; // replayed after a reconnection
            // A gap: the agent's stream skipped events (see fillGap); they happened with this one.
            if (this.lastId > 0 && id > this.lastId + 1) void this.fillGap(this.lastId, id, t);
            this.lastId = Math.max(this.lastId, id);
            this.add({ t, value });
          }
        });
        res.on('close', () => {
          if (this.req === req && this.ended === null) this.drop('closed by the agent');
        });
        resolve();
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end();
      this.req = req;
    });
  }

  private add(rec: Stamped<WatchEvent>): void {
    this.seen.add(Number(rec.value.id));
    this.records.push(rec);
    if (this.records.length > 100_000) this.records.shift();
    this.bus.emit('record', rec);
  }

  /**
   * A guard: an agent whose live stream skipped events (older agents delivered an event emitted by a
   * listener before the one that caused it) — fetch them from the history, stamped with the arrival of
   * the event that revealed the gap (they were emitted in the same tick).
   */
  private async fillGap(after: number, upTo: number, t: number): Promise<void> {
    try {
      const r = await call<WatchEvent[]>(this.socketPath, 'GET', `/v1/events?since=${after}&follow=false`);
      for (const value of r.body) {
        const id = Number(value.id);
        if (id > after && id < upTo && !this.seen.has(id)) {
          this.gapsFilled++;
          this.add({ t, value });
        }
      }
    } catch {
      // the history is best effort; a wait for a lost event times out and is reported
    }
  }

  private finish(why: string): void {
    if (this.ended !== null) return;
    this.ended = why;
    clearInterval(this.watchdog);
    this.bus.emit('end');
  }

  /** The first record arrived at or after `since` matching `pred`; rejects at the deadline or stream end. */
  waitForRecord(
    pred: (e: WatchEvent) => boolean,
    opts: { since?: number; timeout?: number } = {},
  ): Promise<Stamped<WatchEvent>> {
    return waitForStamped(this.records, this.bus, pred, opts, {
      endEvent: 'end',
      ended: () => this.ended !== null,
      endError: () => new Error(`${this.name}: event stream ended (${this.ended}) while waiting`),
      timeoutError: (ms) => new Error(`${this.name}: no matching event within ${ms} ms`),
    });
  }

  close(): void {
    this.finish('closed');
    const r = this.req;
    this.req = null;
    r?.destroy();
  }
}

// ---- shapes (firmware/control/collab-types.ts, as JSON) ----

interface InvitationJson {
  id: string;
  session?: string;
  sessionId?: string;
  peer: string;
  state: string;
  message?: string;
  delivery?: string;
  direction?: string;
}

interface SessionJson {
  id: string;
  members: Array<{ id: string; connected?: boolean }>;
  seq: number;
}

interface Memory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  vmRssMB: number; // /proc/<pid>/status
  vmHwmMB: number;
}

const invitationOf = (e: WatchEvent): InvitationJson | undefined =>
  (e.data as { invitation?: InvitationJson }).invitation;

// ---- the hubs ----

interface Node {
  index: number;
  name: string;
  hub: Hub;
  socket: string;
  id: string;
  feed: EventFeed;
}

/** A process that is gone counts 0 (agents may exit while a window is sampled). */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Wait (bounded) until the agents are quiet: their summed CPU below `maxCores` over two consecutive
 * 1 s windows. Not a measurement: it keeps start-up work (People Near Me verification of every pair,
 * contact additions) out of the figures. Returns the last window's load and whether it settled.
 */
async function settle(
  pids: number[],
  opts: { maxCores?: number; timeoutMs?: number } = {},
): Promise<{ settled: boolean; cores: number; ms: number }> {
  const maxCores = opts.maxCores ?? 0.15;
  const t0 = performance.now();
  const deadline = t0 + (opts.timeoutMs ?? 60_000);
  let quiet = 0;
  let cores = NaN;
  while (performance.now() < deadline) {
    const c0 = pids.reduce((a, p) => a + cpuTicksOr0(p), 0);
    const w0 = performance.now();
    await sleep(1000);
    const c1 = pids.reduce((a, p) => a + cpuTicksOr0(p), 0);
    cores = (c1 - c0) / CLK_TCK / ((performance.now() - w0) / 1000);
    quiet = cores < maxCores ? quiet + 1 : 0;
    if (quiet >= 2) return { settled: true, cores: round2(cores), ms: Math.round(performance.now() - t0) };
  }
  return { settled: false, cores: round2(cores), ms: Math.round(performance.now() - t0) };
}

const round1 = (v: number): number => Math.round(v * 10) / 10;
const round2 = (v: number): number => Math.round(v * 100) / 100;

async function memoryOf(node: Node): Promise<Memory> {
  const s = await call<{ memory?: Record<string, number> }>(node.socket, 'GET', '/v1/status');
  const m = s.body.memory ?? {};
  const pid = node.hub.pid as number;
  return {
    rss: m.rss ?? NaN,
    heapTotal: m.heapTotal ?? NaN,
    heapUsed: m.heapUsed ?? NaN,
    external: m.external ?? NaN,
    arrayBuffers: m.arrayBuffers ?? NaN,
    vmRssMB: round1(rssKB(pid) / 1024),
    vmHwmMB: round1(rssKB(pid, 'VmHWM') / 1024),
  };
}

/** Start agents `indices` in batches; each ready once its control socket answers `GET /v1/status`. */
async function startHubs(
  lab: Lab,
  indices: number[],
  o: CollabBenchOptions,
): Promise<Array<{ index: number; name: string; hub: Hub; id: string }>> {
  const out: Array<{ index: number; name: string; hub: Hub; id: string }> = [];
  for (let k = 0; k < indices.length; k += o.batch) {
    const batch = indices.slice(k, k + o.batch);
    const started = await Promise.all(
      batch.map(async (i) => {
        const name = i === 0 ? 'Host' : `Member ${String(i).padStart(2, '0')}`;
        const hub = await lab.startHub(i, { nickname: name, logLevel: o.logLevel, waitReady: false });
        const st = await waitFor(
          async () => {
            if (!hub.running) throw new Error(`agent ${i} exited ${JSON.stringify(await hub.agent?.exited)}`);
            try {
              return (await call<{ id: string }>(hub.socket, 'GET', '/v1/status', undefined, 5_000)).body;
            } catch (e) {
              if (!hub.running) throw e;
              return null;
            }
          },
          { timeout: 90_000, interval: 200, message: `hub ${i} ready` },
        ).catch((e: Error) => {
          throw new Error(`${e.message}\n${hub.agent?.tail(30) ?? ''}`);
        });
        return { index: i, name, hub, id: st.id };
      }),
    );
    out.push(...started);
    // Each new hub is verified by every running one and verifies them all (a TLS handshake each way):
    // let that finish before the next batch, or 2 cores fall behind and mDNS answers come late.
    const q = await settle(lab.livePids(), { maxCores: 0.3, timeoutMs: 60_000 });
    o.log(`hubs: ${out.length}/${indices.length} up (settled ${q.settled} after ${q.ms} ms)`);
  }
  return out;
}

async function verifiedIds(node: Node): Promise<Set<string>> {
  const rows = (await call<Array<{ id: string | null; verified?: boolean }>>(node.socket, 'GET', '/v1/peers'))
    .body;
  return new Set(rows.filter((r) => r.verified === true && r.id).map((r) => r.id as string));
}

/** Run `fn` over `xs`, at most `n` at a time. */
async function limited<T, R>(xs: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(xs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, xs.length) }, async () => {
      while (next < xs.length) {
        const k = next++;
        out[k] = await fn(xs[k] as T);
      }
    }),
  );
  return out;
}

// ---- 1. invite round trips ----

interface RoundRow {
  tag: string;
  member: string;
  wall: [number, number]; // Date.now() at t0 and when the round's answers were all in
  perf: [number, number]; // the same on performance.now()
  roundTrip: number;
  notified: number;
  answered: number;
  inviteCall: number;
}

interface RoundFigures {
  rows: RoundRow[];
  roundTrip: number[]; // t2 − t0
  notified: number[]; // t1 − t0
  answered: number[]; // t2 − t1'
  inviteCall: number[]; // POST /v1/invitations: written → 201 received
  answerCall: number[]; // POST …/decline|accept: written → answer received
  joined: number[]; // accept: t0 → H's session:member-joined
  failures: string[];
}

const emptyRounds = (): RoundFigures => ({
  rows: [],
  roundTrip: [],
  notified: [],
  answered: [],
  inviteCall: [],
  answerCall: [],
  joined: [],
  failures: [],
});

/**
 * One invitation H → B, answered on B as soon as B's stream shows it. `session`: invite into it
 * (decline rounds reuse one); none: a new session (accept rounds; ended afterwards).
 */
async function inviteRound(
  H: Node,
  B: Node,
  answer: 'decline' | 'accept',
  tag: string,
  session: string | undefined,
  into: RoundFigures | null,
  budget: InviteBudget,
  opened?: Array<{ session: string; member: Node }>,
): Promise<void> {
  const message = `bench ${tag}`;
  await budget.take([B.id]);
  const wall0 = Date.now();
  const t0 = performance.now();
  const invite = call<{ session: string; invitations: InvitationJson[] }>(
    H.socket,
    'POST',
    '/v1/invitations',
    {
      peers: [B.id],
      message,
      ...(session ? { session } : {}),
    },
  );
  invite.catch(() => undefined); // awaited below
  const got = await B.feed.waitForRecord(
    (e) => e.type === 'invitation:received' && invitationOf(e)?.message === message,
    { since: t0, timeout: 30_000 },
  );
  const id = invitationOf(got.value)?.id as string;
  const reply = call<InvitationJson & { joined?: boolean; joinError?: string }>(
    B.socket,
    'POST',
    `/v1/invitations/${id}/${answer}`,
    {},
  );
  reply.catch(() => undefined);
  const t1a = performance.now();
  const answered = H.feed.waitForRecord(
    (e) => e.type === 'invitation:answered' && invitationOf(e)?.id === id,
    { since: t0, timeout: 30_000 },
  );
  answered.catch(() => undefined);
  const joined =
    answer === 'accept'
      ? H.feed.waitForRecord(
          (e) =>
            e.type === 'session:member-joined' &&
            (e.data as { peerId?: string }).peerId === B.id &&
            (e.data as { sessionId?: string }).sessionId === invitationOf(got.value)?.sessionId,
          { since: t0, timeout: 30_000 },
        )
      : null;
  joined?.catch(() => undefined);
  const [inv, rep, t2] = await Promise.all([invite, reply, answered]);
  const j = joined ? await joined : null;
  if (answer === 'accept' && rep.body.joined !== true) {
    throw new Error(`accept ${id} on ${B.name}: joined=${rep.body.joined} ${rep.body.joinError ?? ''}`);
  }
  if (into) {
    into.roundTrip.push(t2.t - inv.tSent);
    into.notified.push(got.t - inv.tSent);
    into.answered.push(t2.t - t1a);
    into.inviteCall.push(inv.tDone - inv.tSent);
    into.answerCall.push(rep.tDone - rep.tSent);
    if (j) into.joined.push(j.t - inv.tSent);
    into.rows.push({
      tag,
      member: B.name,
      wall: [wall0, Date.now()],
      perf: [t0, performance.now()],
      roundTrip: round2(t2.t - inv.tSent),
      notified: round2(got.t - inv.tSent),
      answered: round2(t2.t - t1a),
      inviteCall: round2(inv.tDone - inv.tSent),
    });
  }
  if (answer === 'accept') opened?.push({ session: inv.body.session, member: B });
}

/**
 * End sessions H hosts (unmeasured clean-up: at most 64 may be open) and wait (bounded) until each
 * member's stream shows `session:ended`. Returns, per member, end call written → its session:ended.
 */
async function endSessions(H: Node, opened: Array<{ session: string; member: Node }>): Promise<number[]> {
  const out: number[] = [];
  const list = opened.splice(0);
  const sessions = [...new Set(list.map((x) => x.session))];
  const sent = new Map<string, number>();
  for (const sid of sessions)
    sent.set(sid, (await call(H.socket, 'POST', `/v1/sessions/${sid}/end`, {})).tSent);
  const seen = await Promise.allSettled(
    list.map((x) =>
      x.member.feed.waitForRecord(
        (e) => e.type === 'session:ended' && (e.data as { sessionId?: string }).sessionId === x.session,
        { since: sent.get(x.session) as number, timeout: 20_000 },
      ),
    ),
  );
  seen.forEach((r, k) => {
    if (r.status === 'fulfilled') out.push(r.value.t - (sent.get(list[k]?.session as string) as number));
  });
  return out;
}

/** Paced rounds: each starts ≥ `paceMs` after the previous one started (the peer API's rate limit). */
async function rounds(
  n: number,
  paceMs: number,
  fn: (k: number) => Promise<void>,
  failures: string[],
): Promise<void> {
  for (let k = 0; k < n; k++) {
    const start = performance.now();
    try {
      await fn(k);
    } catch (e) {
      failures.push((e as Error).message.slice(0, 400));
      if (failures.length > 10) throw new Error(`too many failed rounds: ${failures.slice(0, 3).join('; ')}`);
    }
    const left = paceMs - (performance.now() - start);
    if (left > 0) await sleep(left);
  }
}

/**
 * The invitee's per-inviter limit (firmware/collab/policy.ts: 10 invitations a minute, bursts of 5),
 * modelled here so that no measured invitation is refused and retried (that would measure the retry
 * back-off, 1 s doubling). The agent's bucket fills up when it first hears from H, a little after this
 * model's: the model is the stricter one.
 */
class InviteBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perMs = 10 / 60_000,
    private readonly burst = 5,
  ) {}

  private level(id: string, now: number): { tokens: number; at: number } {
    const b = this.buckets.get(id) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    this.buckets.set(id, b);
    return b;
  }

  /** Wait until every one of `ids` has an invitation left, then spend one each. Returns the ms waited. */
  async take(ids: readonly string[]): Promise<number> {
    const now = performance.now();
    const need = Math.max(0, ...ids.map((id) => (1.05 - this.level(id, now).tokens) / this.perMs));
    if (need > 0) await sleep(need + 50);
    const t = performance.now();
    for (const id of ids) this.level(id, t).tokens -= 1;
    return need > 0 ? need + 50 : 0;
  }
}

interface Outlier extends Omit<RoundRow, 'perf'> {
  log: string[]; // H's and B's agent log lines during the round
  busy: string; // who used the CPU during the round (cores): the busiest agents, the rest, others
}

/**
 * CPU of every agent (and of the machine), sampled every 100 ms: which process was busy while a round
 * was slow. /proc ticks are 10 ms, so a window says something from a few hundred ms on.
 */
class CpuSampler {
  private readonly samples: Array<{ t: number; machine: number; ticks: number[] }> = [];
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly nodes: Node[]) {
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
    this.sample();
  }

  private sample(): void {
    const pids = this.nodes.map((n) => n.hub.pid ?? 0);
    this.samples.push({ t: performance.now(), machine: machineBusyTicks(), ticks: pids.map(cpuTicksOr0) });
    if (this.samples.length > 20_000) this.samples.shift();
  }

  /** Cores used in [from, to] (performance.now()), busiest agents first. */
  busy(from: number, to: number): string {
    const a = [...this.samples].reverse().find((x) => x.t <= from) ?? this.samples[0];
    const b = this.samples.find((x) => x.t >= to) ?? this.samples[this.samples.length - 1];
    if (!a || !b || b.t <= a.t) return 'no samples';
    const secs = (b.t - a.t) / 1000;
    const per = this.nodes
      .map((n, k) => ({ name: n.name, cores: ((b.ticks[k] ?? 0) - (a.ticks[k] ?? 0)) / CLK_TCK / secs }))
      .sort((x, y) => y.cores - x.cores);
    const agents = per.reduce((s, x) => s + x.cores, 0);
    const machine = (b.machine - a.machine) / CLK_TCK / secs;
    const top = per
      .slice(0, 3)
      .map((x) => `${x.name} ${x.cores.toFixed(2)}`)
      .join(', ');
    return `over ${Math.round(b.t - a.t)} ms: ${top}; all agents ${agents.toFixed(2)}; machine ${machine.toFixed(2)} cores`;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The agents' log lines (lab log files) of `ns` with a time within `wall` (ms since the epoch). */
function logLines(ns: Node[], [from, to]: [number, number]): string[] {
  const out: Array<[number, string]> = [];
  for (const n of ns) {
    let text = '';
    try {
      text = readFileSync(join(n.hub.dir, 'agent.log'), 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) {
      const i = l.indexOf('{');
      if (i < 0) continue;
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(l.slice(i)) as Record<string, unknown>;
      } catch {
        continue;
      }
      const t = Date.parse(String(j.time));
      if (!(t >= from - 5 && t <= to + 5)) continue;
      const { time, app: _a, level, msg, ...rest } = j;
      out.push([
        t,
        `${n.name} ${String(time).slice(11)} ${String(level)} ${String(msg)} ${JSON.stringify(rest)}`,
      ]);
    }
  }
  return out
    .sort((a, b) => a[0] - b[0])
    .slice(0, 16)
    .map(([, l]) => l.slice(0, 400));
}

/** The slowest rounds (round trip over 3× the median and 50 ms more), with what the agents logged then. */
function outliers(r: RoundFigures, H: Node, nodes: Node[], cpu: CpuSampler): Outlier[] {
  if (!r.rows.length) return [];
  const p50 = percentile(
    r.rows.map((x) => x.roundTrip),
    50,
  );
  const limit = Math.max(3 * p50, p50 + 50);
  return r.rows
    .filter((x) => x.roundTrip > limit)
    .sort((a, b) => b.roundTrip - a.roundTrip)
    .slice(0, 8)
    .map(({ perf, ...x }) => ({
      ...x,
      busy: cpu.busy(perf[0] - 100, perf[1]),
      log: logLines([H, ...nodes.filter((n) => n.name === x.member)], x.wall),
    }));
}

// ---- load: was the machine busy with anything else meanwhile? ----

interface Load {
  wallS: number;
  agentsCores: number; // the lab's agents
  benchCores: number; // this process
  otherCores: number; // everything else on the machine (other tests, builds…): should be ≈ 0
  loadavg: string;
  hostPeersLost?: number; // peer:lost events on H's stream meanwhile (People Near Me churn)
  membersPeersLost?: number; // … on the members' streams, summed
}

/** Start measuring; the function returned ends it (agents started meanwhile count from zero). */
function loadMeter(lab: Lab): () => Load {
  const a0 = new Map(lab.livePids().map((p) => [p, cpuTicksOr0(p)]));
  const w0 = performance.now();
  const m0 = machineBusyTicks();
  const c0 = process.cpuUsage();
  return () => {
    const wall = (performance.now() - w0) / 1000;
    const machine = (machineBusyTicks() - m0) / CLK_TCK;
    const agents = lab.livePids().reduce((a, p) => a + cpuTicksOr0(p) - (a0.get(p) ?? 0), 0) / CLK_TCK;
    const c = process.cpuUsage(c0);
    const bench = (c.user + c.system) / 1e6;
    const per = (x: number): number => round2(x / Math.max(wall, 0.001));
    return {
      wallS: round1(wall),
      agentsCores: per(agents),
      benchCores: per(bench),
      otherCores: per(Math.max(0, machine - agents - bench)),
      loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    };
  };
}

// ---- 2. fan-out ----

interface FanoutFigures {
  members: number; // registered and connected
  invited: number;
  messages: number;
  perMember?: Summary; // post written → member's session:message
  allDelivered?: Summary; // post written → the last member's session:message
  postCall?: Summary; // POST …/messages: written → answer
  inviteCallMs: number; // one POST /v1/invitations for all N
  joinS: number; // invite → every member registered with a stream attached
  missing: number; // (member, message) pairs never seen within the deadline
  failures: string[];
  memory?: Memory;
  endToMembers?: Summary; // POST …/end written → each member's session:ended
  slowMessages?: Array<{ k: number; last: number; busy: string }>; // post → last member, the slow ones
}

async function fanout(
  H: Node,
  members: Node[],
  messages: number,
  o: CollabBenchOptions,
  lab: Lab,
  budget: InviteBudget,
  cpu: CpuSampler,
): Promise<{ figures: FanoutFigures; session: string }> {
  const n = members.length;
  const failures: string[] = [];
  const tag = randomBytes(3).toString('hex');
  const message = `fan-out ${n} ${tag}`;
  await budget.take(members.map((m) => m.id));
  const t0 = performance.now();
  const inv = await call<{ session: string; invitations: InvitationJson[] }>(
    H.socket,
    'POST',
    '/v1/invitations',
    { peers: members.map((m) => m.id), message },
    60_000,
  );
  const sid = inv.body.session;
  const undelivered = inv.body.invitations.filter((i) => i.delivery !== 'delivered');
  if (undelivered.length)
    o.log(`fan-out ${n}: ${undelivered.length} invitations not yet delivered when the call returned`);
  // Each member accepts as soon as its stream shows the invitation (at most `batch` at a time).
  const joined = await limited(members, o.batch, async (m) => {
    try {
      const got = await m.feed.waitForRecord(
        (e) => e.type === 'invitation:received' && invitationOf(e)?.message === message,
        { since: t0 - 1, timeout: 60_000 },
      );
      const id = invitationOf(got.value)?.id as string;
      const r = await call<{ joined?: boolean; joinError?: string; state?: string }>(
        m.socket,
        'POST',
        `/v1/invitations/${id}/accept`,
        {},
        60_000,
      );
      if (r.body.joined !== true) {
        failures.push(
          `${m.name}: accept: state ${r.body.state}, joined ${r.body.joined}: ${r.body.joinError}`,
        );
        return null;
      }
      return m;
    } catch (e) {
      failures.push(`${m.name}: ${(e as Error).message.slice(0, 300)}`);
      return null;
    }
  });
  const ok = joined.filter((m): m is Node => m !== null);
  // Registered + stream attached, as the host sees it.
  const want = new Set(ok.map((m) => m.id));
  await waitFor(
    async () => {
      const s = (await call<SessionJson>(H.socket, 'GET', `/v1/sessions/${sid}`)).body;
      const connected = s.members.filter((x) => want.has(x.id) && x.connected === true).length;
      return connected === want.size;
    },
    { timeout: 120_000, interval: 250, message: `fan-out ${n}: all ${want.size} members connected` },
  ).catch((e: Error) => failures.push(e.message));
  const joinS = (performance.now() - t0) / 1000;
  o.log(`fan-out ${n}: ${ok.length}/${n} members joined in ${joinS.toFixed(1)} s`);
  // Joins make notices to every member, contact additions on H (policy "add"): let that finish.
  const q = await settle(lab.livePids(), { timeoutMs: 60_000 });
  o.log(`fan-out ${n}: settled ${q.settled} (${q.cores} cores) after ${q.ms} ms`);

  const perMember: number[] = [];
  const allDelivered: number[] = [];
  const postCall: number[] = [];
  let missing = 0;
  const slow: Array<{ k: number; last: number; perf: [number, number] }> = [];
  const WARM = 3;
  for (let k = 0; k < messages + WARM; k++) {
    const text = `fan-out ${n} ${tag} #${k}`;
    const post = await call<{ seq: number }>(H.socket, 'POST', `/v1/sessions/${sid}/messages`, { text });
    const seen = await Promise.allSettled(
      ok.map((m) =>
        m.feed.waitForRecord(
          (e) =>
            e.type === 'session:message' &&
            (e.data as { sessionId?: string }).sessionId === sid &&
            (e.data as { text?: string }).text === text,
          { since: post.tSent, timeout: 20_000 },
        ),
      ),
    );
    if (k < WARM) continue; // the first messages down fresh streams: unmeasured
    postCall.push(post.tDone - post.tSent);
    let last = 0;
    for (const s of seen) {
      if (s.status === 'fulfilled') {
        const ms = s.value.t - post.tSent;
        perMember.push(ms);
        last = Math.max(last, ms);
      } else missing++;
    }
    allDelivered.push(last);
    slow.push({ k: k - WARM, last: round2(last), perf: [post.tSent, post.tSent + last] });
    await sleep(Math.max(0, 100 - (performance.now() - post.tSent))); // a chat's pace, not a flood
  }
  if (missing) failures.push(`${missing} (member, message) deliveries not seen within 20 s`);
  const figures: FanoutFigures = {
    members: ok.length,
    invited: n,
    messages,
    ...(perMember.length ? { perMember: summarize(perMember) } : {}),
    ...(allDelivered.length ? { allDelivered: summarize(allDelivered) } : {}),
    ...(postCall.length ? { postCall: summarize(postCall) } : {}),
    inviteCallMs: round2(inv.tDone - inv.tSent),
    joinS: round1(joinS),
    missing,
    failures,
  };
  if (allDelivered.length) {
    const p50 = percentile(allDelivered, 50);
    figures.slowMessages = slow
      .filter((x) => x.last > Math.max(3 * p50, p50 + 50))
      .sort((a, b) => b.last - a.last)
      .slice(0, 5)
      .map(({ perf, ...x }) => ({ ...x, busy: cpu.busy(perf[0] - 100, perf[1]) }));
  }
  o.log(
    `fan-out ${n}: per member p50 ${figures.perMember?.p50} / p99 ${figures.perMember?.p99} / max ${figures.perMember?.max} ms`,
  );
  return { figures, session: sid };
}

// ---- report ----

function row(label: string, s: Summary | undefined, withMax = false): string {
  if (!s) return `${label.padEnd(58)}—`;
  const f = (v: number): string => (v < 10 ? v.toFixed(2) : v.toFixed(1));
  const v = `${f(s.p50)} / ${f(s.p99)}${withMax ? ` / ${f(s.max)}` : ''}`;
  return `${label.padEnd(58)}${v.padEnd(26)}n=${s.n}`;
}

interface RoundSummary {
  roundTrip?: Summary;
  notified?: Summary;
  answered?: Summary;
  inviteCall?: Summary;
  answerCall?: Summary;
  joined?: Summary;
  samples?: { roundTrip: number[]; notified: number[]; answered: number[] };
  outliers?: Outlier[];
  failures: string[];
}

function summarizeRounds(r: RoundFigures, keepSamples = false): RoundSummary {
  const s = (xs: number[]): Summary | undefined => (xs.length ? summarize(xs) : undefined);
  const raw = (xs: number[]): number[] => xs.map(round2);
  return {
    roundTrip: s(r.roundTrip),
    notified: s(r.notified),
    answered: s(r.answered),
    inviteCall: s(r.inviteCall),
    answerCall: s(r.answerCall),
    joined: s(r.joined),
    ...(keepSamples
      ? { samples: { roundTrip: raw(r.roundTrip), notified: raw(r.notified), answered: raw(r.answered) } }
      : {}),
    failures: r.failures,
  };
}

function memRow(label: string, m: Memory | undefined): string {
  if (!m) return `${label.padEnd(50)}—`;
  const c = (v: number): string => String(v).padEnd(10);
  return `${label.padEnd(50)}${c(m.rss)}${c(m.heapUsed)}${c(m.heapTotal)}${c(m.external)}${m.vmHwmMB}`;
}

function table(
  invite: Record<string, RoundSummary>,
  fan: Record<string, FanoutFigures>,
  memory: Record<string, Memory | undefined>,
  deltas: Record<string, Memory | undefined>,
): string {
  const lines = [`${'collaboration, ms'.padEnd(58)}${'p50 / p99 [/ max]'.padEnd(26)}samples`];
  const part = (label: string, r: RoundSummary | undefined, answer: string): void => {
    if (!r) return;
    lines.push(
      row(`${label}: round trip (t2 − t0)`, r.roundTrip, true),
      row(`${label}: B notified (t1 − t0)`, r.notified, true),
      row(`${label}: ${answer} → H informed (t2 − t1')`, r.answered, true),
      row(`${label}: POST /v1/invitations call`, r.inviteCall),
      row(`${label}: POST …/${answer} call`, r.answerCall),
    );
    if (r.joined) lines.push(row(`${label}: B registered, H sees it (t0 → joined)`, r.joined, true));
  };
  part('invite warm, decline', invite.warmDecline, 'decline');
  part('invite warm, accept', invite.warmAccept, 'accept');
  part('invite cold (new TLS), decline', invite.coldDecline, 'decline');
  for (const [n, f] of Object.entries(fan)) {
    lines.push(
      row(`fan-out ${f.members}/${n} members: post → each member`, f.perMember, true),
      row(`fan-out ${f.members}/${n} members: post → last member`, f.allDelivered, true),
      row(`fan-out ${f.members}/${n} members: POST …/messages call`, f.postCall),
      row(`fan-out ${f.members}/${n} members: session end → each member`, f.endToMembers, true),
    );
  }
  lines.push(
    '',
    `${'host H memory, MB'.padEnd(50)}${'rss'.padEnd(10)}${'heapUsed'.padEnd(10)}${'heapTotal'.padEnd(10)}${'external'.padEnd(10)}VmHWM`,
    ...Object.entries(memory).map(([k, m]) => memRow(k, m)),
    ...Object.entries(deltas).map(([k, m]) => memRow(`Δ ${k}`, m)),
  );
  return lines.join('\n');
}

// ---- the run ----

const SPARE_MEMBERS = 3;

export async function runCollabBench(opts: CollabBenchOptions): Promise<number> {
  const started = new Date();
  const o = {
    ...opts,
    log: (x: string) => opts.log(`[${Math.round((Date.now() - started.getTime()) / 1000)} s] ${x}`),
  };
  if (!(await labAvailable())) {
    console.error(`bench collab: ${LAB_SKIP}`);
    return 2;
  }
  if (!agentBuilt()) {
    console.error(`bench collab: agent not built (${agentCliPath()}): run npm run build`);
    return 2;
  }
  const teardowns: (() => unknown)[] = [];
  const problems: string[] = [];
  let ok = true;
  // Keep the agents' logs (/tmp/peerhub-lab-logs/<lab>) when anything went wrong, not only on a crash.
  const tap: Teardown = { teardown: (fn) => teardowns.push(fn), passing: () => ok && problems.length === 0 };
  const feeds: EventFeed[] = [];
  // Members needed, plus a few spares: People Near Me at ~50 hubs drops and re-verifies peers for
  // minutes after start-up, so the first `need` members verified both ways with H are used.
  const need = Math.max(...o.members, o.cold + 1, 1);
  const N = need + SPARE_MEMBERS;
  try {
    const tLab = performance.now();
    const lab = await createLab(tap, { hubs: N + 1 });
    const labS = (performance.now() - tLab) / 1000;
    o.log(`lab ${lab.id}: 10.77.${lab.subnet}.0/16, 1 host + ${N} members (${need} used)`);
    const loads: Record<string, Load> = {};
    let meter = loadMeter(lab);
    const tStart = performance.now();
    const up = await startHubs(
      lab,
      Array.from({ length: N + 1 }, (_, i) => i),
      o,
    );
    const startS = (performance.now() - tStart) / 1000;
    const nodes: Node[] = [];
    for (const u of up) {
      const feed = await EventFeed.open(u.hub.socket, u.name);
      feeds.push(feed);
      nodes.push({ ...u, socket: u.hub.socket, feed });
    }
    const [H, ...everyone] = nodes as [Node, ...Node[]];
    const lostSince = (f: EventFeed, t: number): number =>
      f.records.filter((r) => r.t >= t && r.value.type === 'peer:lost').length;
    // Members accept H's invitations although H is not their contact: "nearby" (verified) for an hour.
    await limited(everyone, o.batch, (m) =>
      call(m.socket, 'PUT', '/v1/policy', { invite: { mode: 'nearby', minutes: 60 } }),
    );
    // People Near Me verification both ways: H reaches each member by id, each member accepts H as nearby.
    // Bounded: members still unverified at the deadline are left out (and reported).
    const tVerify = performance.now();
    const bothWays = async (): Promise<Node[]> => {
      const hv = await verifiedIds(H);
      const seen = await limited(everyone, 8, async (m) => (await verifiedIds(m)).has(H.id));
      return everyone.filter((m, k) => hv.has(m.id) && seen[k]);
    };
    let members = await bothWays();
    let said = '';
    while (members.length < need && performance.now() - tVerify < 300_000) {
      const line = `verification: ${members.length}/${everyone.length} members verified both ways with H (${need} needed)`;
      if (line !== said) o.log((said = line));
      await sleep(2_000);
      members = await bothWays();
    }
    if (members.length < need)
      problems.push(
        `only ${members.length} of ${everyone.length} members verified both ways with H in 300 s`,
      );
    if (members.length === 0) throw new Error('no member verified both ways with H');
    members = members.slice(0, need);
    const verifyS = (performance.now() - tVerify) / 1000;
    o.log(`hubs up in ${startS.toFixed(1)} s, verified both ways ${verifyS.toFixed(1)} s later`);
    const quiet = await settle(lab.livePids(), { timeoutMs: 90_000 });
    o.log(`settled ${quiet.settled} (${quiet.cores} cores) after ${quiet.ms} ms`);
    loads['start-up'] = {
      ...meter(),
      hostPeersLost: lostSince(H.feed, 0),
      membersPeersLost: everyone.reduce((a, m) => a + lostSince(m.feed, 0), 0),
    };

    /** A part that fails is reported; the others still run. Its load is kept. */
    const part = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
      meter = loadMeter(lab);
      const t = performance.now();
      try {
        await fn();
      } catch (e) {
        problems.push(`${name}: ${(e as Error).message.slice(0, 400)}`);
        o.log(`${name} failed: ${(e as Error).message}`);
      }
      loads[name] = {
        ...meter(),
        hostPeersLost: lostSince(H.feed, t),
        membersPeersLost: everyone.reduce((a, m) => a + lostSince(m.feed, t), 0),
      };
      if (loads[name].hostPeersLost)
        o.log(`${name}: H lost ${loads[name].hostPeersLost} People Near Me peers meanwhile`);
      if (loads[name].otherCores > 0.2)
        o.log(`${name}: other processes used ${loads[name].otherCores} cores meanwhile (figures disturbed)`);
    };
    const memory: Record<string, Memory | undefined> = {};
    const cpu = new CpuSampler(nodes);
    const idleKey = `idle (${members.length} members verified)`;
    memory[idleKey] = await memoryOf(H);

    // 1. invitations. Cold first: the last members, which H has never called.
    const invite: Record<string, RoundSummary> = {};
    const sid = (await call<{ id: string }>(H.socket, 'POST', '/v1/sessions', {})).body.id;
    const coldNodes = members.slice(-o.cold);
    const budget = new InviteBudget();
    const cold = emptyRounds();
    await part('invite cold', () =>
      rounds(
        coldNodes.length,
        200,
        (k) => inviteRound(H, coldNodes[k] as Node, 'decline', `cold ${k}`, sid, cold, budget),
        cold.failures,
      ),
    );
    invite.coldDecline = { ...summarizeRounds(cold, true), outliers: outliers(cold, H, nodes, cpu) };
    o.log(`invite cold: ${cold.roundTrip.length} rounds, p50 ${invite.coldDecline.roundTrip?.p50} ms`);

    // Warm: B rotates over the members not kept cold (4 invitations each at most: one unmeasured round
    // opens both peer-API sessions, then up to 3 measured), so the invitee's limit never bites.
    const warmNodes = members
      .slice(0, Math.max(1, members.length - coldNodes.length))
      .slice(0, Math.ceil(o.invites / 3));
    const warm = emptyRounds();
    await part('invite warm decline', async () => {
      await rounds(
        warmNodes.length,
        100,
        (k) => inviteRound(H, warmNodes[k] as Node, 'decline', `warm-up ${k}`, sid, null, budget),
        warm.failures,
      );
      await rounds(
        o.invites,
        100,
        (k) =>
          inviteRound(H, warmNodes[k % warmNodes.length] as Node, 'decline', `warm ${k}`, sid, warm, budget),
        warm.failures,
      );
    });
    invite.warmDecline = { ...summarizeRounds(warm, true), outliers: outliers(warm, H, nodes, cpu) };
    o.log(
      `invite warm decline: ${warm.roundTrip.length} rounds, p50 ${invite.warmDecline.roundTrip?.p50} ms`,
    );
    memory['before members registered'] = await memoryOf(H);

    // 2. + 3. fan-out, H's memory with each session open; then the session ends.
    const fan: Record<string, FanoutFigures> = {};
    let largest: Memory | undefined;
    for (const n of o.members) {
      await part(`fan-out ${n}`, async () => {
        const { figures, session } = await fanout(H, members.slice(0, n), o.messages, o, lab, budget, cpu);
        figures.memory = await memoryOf(H);
        memory[`${figures.members} members + ${o.messages + 3} messages`] = figures.memory;
        if (n === Math.max(...o.members)) largest = figures.memory;
        fan[String(n)] = figures;
        problems.push(...figures.failures.map((f) => `fan-out ${n}: ${f}`));
        const ended = await endSessions(
          H,
          members.slice(0, n).map((member) => ({ session, member })),
        );
        if (ended.length) figures.endToMembers = summarize(ended);
        if (ended.length < Math.min(n, members.length))
          problems.push(
            `fan-out ${n}: ${Math.min(n, members.length) - ended.length} members never saw the end`,
          );
      });
    }

    // 1b. accept: registration with H (membership certificate) and B's member stream, every round.
    // B rotates again (one unmeasured accept each, then up to 2 measured).
    // Each accept opens a session: they are ended 20 at a time, between rounds (unmeasured).
    const accNodes = members.slice(0, Math.ceil(o.accepts / 2));
    const acc = emptyRounds();
    const opened: Array<{ session: string; member: Node }> = [];
    const flush = async (): Promise<void> => {
      if (opened.length >= 20) await endSessions(H, opened);
    };
    await part('invite warm accept', async () => {
      await rounds(
        accNodes.length,
        250,
        async (k) => {
          await flush();
          await inviteRound(
            H,
            accNodes[k] as Node,
            'accept',
            `accept warm-up ${k}`,
            undefined,
            null,
            budget,
            opened,
          );
        },
        acc.failures,
      );
      await rounds(
        o.accepts,
        250,
        async (k) => {
          await flush();
          const B = accNodes[k % accNodes.length] as Node;
          await inviteRound(H, B, 'accept', `accept ${k}`, undefined, acc, budget, opened);
        },
        acc.failures,
      );
      await endSessions(H, opened);
    });
    invite.warmAccept = { ...summarizeRounds(acc, true), outliers: outliers(acc, H, nodes, cpu) };
    o.log(`invite warm accept: ${acc.roundTrip.length} rounds, p50 ${invite.warmAccept.roundTrip?.p50} ms`);
    problems.push(
      ...cold.failures.map((f) => `cold: ${f}`),
      ...warm.failures.map((f) => `warm decline: ${f}`),
      ...acc.failures.map((f) => `warm accept: ${f}`),
    );

    const minus = (a: Memory | undefined, b: Memory | undefined): Memory | undefined =>
      a && b
        ? (Object.fromEntries(
            Object.entries(a).map(([k, v]) => [k, round1(v - (b[k as keyof Memory] as number))]),
          ) as unknown as Memory)
        : undefined;
    const deltas = {
      'largest session − before members registered': minus(largest, memory['before members registered']),
      'largest session − idle': minus(largest, memory[idleKey]),
    };

    // Agents' own warnings and errors (their full logs are lab files): what they complained about.
    const agentWarnings: Record<string, number> = {};
    for (const nd of nodes) {
      let text = '';
      try {
        text = readFileSync(join(nd.hub.dir, 'agent.log'), 'utf8');
      } catch {
        continue;
      }
      for (const l of text.split('\n')) {
        const lv = /"level":"?(warn|error|fatal|40|50|60)\b/.exec(l);
        const m = /"msg":"([^"]{0,160})/.exec(l);
        if (!lv || !m) continue;
        const key = `${lv[1]}: ${m[1]}`;
        agentWarnings[key] = (agentWarnings[key] ?? 0) + 1;
      }
    }

    cpu.stop();
    const feedDrops = feeds.flatMap((f) => f.drops.map((d) => ({ hub: f.name, ...d })));
    const eventsSkipped = feeds.reduce((a, f) => a + f.gapsFilled, 0);
    if (eventsSkipped)
      problems.push(
        `${eventsSkipped} events skipped by the agents' live GET /v1/events streams (an event whose listener emits another one synchronously — panel:changed — is dropped), taken from the history instead`,
      );
    if (feedDrops.length)
      problems.push(
        `${feedDrops.length} event streams dropped by the agents (reconnected): ${[...new Set(feedDrops.map((d) => `${d.why} after ${d.afterS} s`))].slice(0, 5).join('; ')}`,
      );
    console.log(table(invite, fan, memory, deltas));
    console.log(
      `\nload, cores (agents / bench / other processes): ${Object.entries(loads)
        .map(
          ([k, l]) =>
            `${k} ${l.agentsCores} / ${l.benchCores} / ${l.otherCores} (H lost ${l.hostPeersLost} peers)`,
        )
        .join('; ')}`,
    );
    if (problems.length) console.log(`\nproblems:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    const report = {
      date: started.toISOString(),
      durationS: Math.round((Date.now() - started.getTime()) / 1000),
      machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, kernel: release() },
      config: {
        agentNodeFlags: unitNodeFlags(),
        hubs: N + 1,
        spareMembers: SPARE_MEMBERS,
        invites: o.invites,
        accepts: o.accepts,
        cold: coldNodes.length,
        warmMembers: warmNodes.length,
        acceptMembers: accNodes.length,
        messages: o.messages,
        members: o.members,
        batch: o.batch,
        logLevel: o.logLevel,
      },
      units: 'milliseconds unless named; memory in MB; p50/p99 nearest-rank (p99 of < 100 samples = max)',
      startup: {
        labS: round1(labS), // createLab: namespaces, veths, bridge
        startS: round1(startS),
        verifyS: round1(verifyS),
        settle: quiet,
      },
      invite,
      fanout: fan,
      memory: { ...memory, ...deltas },
      load: loads,
      feedDrops,
      eventsSkipped,
      agentWarnings,
      problems,
      notes: [
        'Lab: network namespaces on one bridge on this machine (2 cores for every agent and this process); every agent runs the built firmware (PEERHUB_LOG_LEVEL as in config.logLevel), its data dir on the lab temp dir (ext4 here: durable writes fsync).',
        'Streams: this process holds GET /v1/events (NDJSON, since=0) open on each hub’s control socket and stamps every line on arrival; control calls on the same sockets are timed from the request being written. peerhub watch --json reads the same stream (it adds a process per hub, not used here).',
        'Invite round trip: t0 = POST /v1/invitations written on H; t1 = invitation:received on B’s stream; t1′ = POST /v1/invitations/<id>/decline (or /accept) written on B right away; t2 = invitation:answered for that id on H’s stream. Each side durably stores the invitation before it emits its event. The control calls answer once delivery has settled (the agent polls that every 20 ms), so their times are coarser than the events’.',
        'Warm: B rotates over several members, each after one unmeasured round (H→B and B→H peer-API sessions open): an invitee takes at most 10 invitations a minute from one inviter, bursts of 5 (firmware/collab/policy.ts), so ≥ 50 rounds with one B would measure the refusal and the retry back-off (1 s, 2 s, 4 s…). The bench models that bucket and waits (unmeasured) before an invitation that would exceed it. Decline rounds reuse one session. Cold = the first invitation H ever sends to a member (new mutual-TLS session H→B; B’s answer opens B→H), one per member not contacted before. Accept rounds: a new session each (answer + registration with a membership certificate + member stream); H ends them 20 at a time between rounds (unmeasured). Rounds are paced (decline ≥ 100 ms, accept ≥ 250 ms apart).',
        'Fan-out: one POST /v1/invitations for all N, members accept as soon as their stream shows it (8 at a time); once every member is registered with its stream attached (GET /v1/sessions/<id>: connected) and the agents are quiet, H posts messages one at a time (≥ 100 ms apart, the first 3 unmeasured); latency per member = its session:message with that text − post written. “last member” = the slowest member of each message. Sessions are ended after their figures.',
        'Memory: H’s GET /v1/status memory (process.memoryUsage in MB: rss, heapUsed, heapTotal, external) and VmHWM from /proc; heap figures move with garbage collection. “idle” = members verified, nothing sent; “before members registered” = after the invite rounds (≈ 150 declined invitations stored, and a peer-API session each way with every member invited, which is most of the step from idle); then with each fan-out session open (members registered, their streams attached, the messages sent). Deltas: largest session − before (the registrations, streams and messages) and − idle (everything a host with that many members holds). H’s policy adds each registered member to its contacts (contactsOnActivity: add), which also subscribes to their presence: that is in the figures.',
        'Event streams: a stream silent for 35 s (no heartbeat) or closed by the agent is opened again from the last event seen (feedDrops). A gap in the ids (agents before the event bus delivered nested events in order skipped some) is filled from GET /v1/events?since=…&follow=false, stamped with the arrival of the event that revealed it; eventsSkipped counts them (0 expected).',
        'Session end → member: POST /v1/sessions/<id>/end written on H → session:ended on each member’s stream.',
        'Load: CPU used meanwhile by the lab’s agents, by this process and by everything else on the machine (/proc/stat minus both); other processes above ≈ 0.2 core disturb the figures. hostPeersLost = peer:lost events on H’s stream (People Near Me churn).',
        'Settling: after start-up and after each batch of joins the bench waits (not measured) until the agents’ summed CPU is under 0.15 core for two 1 s windows (bounded).',
      ],
    };
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
    o.log(`wrote ${o.out}`);
    return 0;
  } catch (err) {
    ok = false;
    console.error(err instanceof Error ? err.stack : err);
    return 1;
  } finally {
    for (const f of feeds) f.close();
    for (const fn of teardowns.reverse()) await fn();
  }
}

export function collabOptionsFromArgs(argv: string[]): CollabBenchOptions {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: true, // run.ts passes its own options through (strict: false ignores them)
    strict: false,
    options: {
      invites: { type: 'string', default: '100' },
      accepts: { type: 'string', default: '50' },
      cold: { type: 'string', default: '8' },
      messages: { type: 'string', default: '30' },
      members: { type: 'string', default: '20,50' },
      batch: { type: 'string', default: '8' },
      'collab-log-level': { type: 'string', default: 'warn' },
      'collab-out': { type: 'string', default: join(repoRoot(), 'docs/bench/collab.json') },
    },
  });
  const num = (v: unknown, lo: number, hi: number): number => Math.max(lo, Math.min(hi, Number(v) || lo));
  const members = String(values.members)
    .split(',')
    .map((x) => num(x, 1, 100))
    .sort((a, b) => a - b);
  return {
    invites: num(values.invites, 1, 1000),
    accepts: num(values.accepts, 1, 500),
    cold: num(values.cold, 1, 100),
    messages: num(values.messages, 1, 1000),
    members: [...new Set(members)],
    batch: num(values.batch, 1, 32),
    logLevel: String(values['collab-log-level']),
    out: String(values['collab-out']),
    log: (s) => console.error(`# ${s}`),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCollabBench(collabOptionsFromArgs(process.argv.slice(2)));
}
