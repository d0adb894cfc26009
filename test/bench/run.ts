/**
 * Presence benchmark: peerhub agents against avahi-daemon, measured in the same run on the same lab.
 *
 *   npm run bench [-- --samples 30 --cycles 10 --idle 60 --only peerhub,avahi,idle --out docs/bench/latest.json]
 *   npm run bench -- --only trust [--parts tls,contacts,store --trust-out docs/bench/trust.json]   (test/bench/trust.ts)
 *   npm run bench -- --only collab [--invites 100 --accepts 50 --cold 8 --messages 30 --members 20,50
 *       --batch 8 --collab-log-level warn --collab-out docs/bench/collab.json]   (test/bench/collab.ts: host + 53 agents)
 *   npm run bench -- --only zeroconf [--zeroconf-out docs/bench/zeroconf.json]   (test/bench/zeroconf.ts: the
 *       python3-zeroconf anchor, nodes 4 and 5 of the same lab, --samples/--cycles as above)
 *   npm run bench -- --only crash [--crash-samples 3 --crash-cap 300 --crash-out docs/bench/crash.json]
 *       (test/bench/crash.ts: kill -9 → gone for peerhub, avahi, zeroconf; a crashed / unplugged contact)
 *   npm run bench -- --only fleet [--fleet 10,50,100 --fleet-tools peerhub,avahi,zeroconf --fleet-window 240
 *       --fleet-settle S (default per size: 36 s for 10, 180 s for 50, 360 s for 100) --fleet-deadline 300 --join-samples 3 --fleet-out docs/bench/fleet.json]
 *       (test/bench/fleet.ts: N hubs per tool: a joiner, N started together, packets/min on the bridge)
 *   npm run bench -- --only presence-cpu   (test/bench/presence-cpu.ts: presence CPU per hub, 50 hubs started
 *       together on the in-memory LAN, the agent's Node flags; docs/bench/presence-cpu.json)
 *   Every run ends by regenerating docs/PERFORMANCE.md and docs/bench/performance.svg from docs/bench/*.json
 *   (test/bench/report.ts; `node dist/test/bench/report.js` alone does it too; --no-report skips it).
 *
 * Lab: node 0 = subject, node 1 = observer (peerhub); node 2 = subject, node 3 = observer (avahi).
 * Every latency is taken from an event stream with arrival timestamps — the observer hub's
 * GET /v1/events on its control socket, or `avahi-browse -rp` (no -t) — never by polling with sleeps.
 *
 * Fair equivalents (documented in the output's notes):
 * - start → seen: peerhub = spawn of `peerhub agent` (Node start, identity load, probe, announce);
 *   avahi = spawn of avahi-daemon (host probe) + a D-Bus publisher started when the daemon is up.
 * - status change → seen: peerhub = PUT /v1/presence on the control socket, what `peerhub presence set`
 *   sends (request = call made, ack = response received; the CLI itself adds its Node start-up);
 *   avahi = EntryGroup.UpdateServiceTxt through test/lab/avahi_publish.py (request = line written,
 *   ack = the helper printed `updated`). avahi-publish has no in-place TXT update: restarting it would
 *   add a withdraw + probe that peerhub does not pay, so it is not used.
 * - graceful stop → gone: SIGTERM to the agent / to avahi-daemon; observer reports removal.
 * - idle: RSS and CPU of the subject agent and of avahi-daemon (+ its dbus-daemon) over the same window,
 *   30 s after they were started (IDLE_SETTLE_MS).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import {
  agentBuilt,
  agentCliPath,
  createLab,
  labAvailable,
  LAB_SKIP,
  repoRoot,
  type AvahiBrowseLine,
  type Lab,
  type Teardown,
} from '../lab/harness.js';
import { CLK_TCK, cpuTicks, percentile } from '../lab/proc.js';
import { hubDataDir } from '../lab/hub.js';
import { unitNodeFlags } from '../lab/paths.js';
import { HubFeed, peerInstance, summarize, type HubEvent, type Summary } from './common.js';
import { collabOptionsFromArgs, runCollabBench } from './collab.js';
import { crashOptionsFromArgs, runCrashBench } from './crash.js';
import { fleetOptionsFromArgs, runFleetBench } from './fleet.js';
import { writePerformanceReport } from './report.js';
import { benchZeroconf, ZEROCONF_NOTES, type ZeroconfSide } from './zeroconf.js';
import { runTrustBench, trustOptionsFromArgs } from './trust.js';

const STATES = ['Busy', 'Away', 'OnThePhone', 'Online'] as const;

interface Side {
  /** peerhub: spawn → agent ready, seen from here and as the agent reports it (process uptime, CPU). */
  startReady?: Summary;
  startReadyCpu?: Summary;
  /** The first cycle, when its data directory was empty: keys made (RSA-2048 root and TLS leaf). */
  firstBootReady?: { ms: number; cpuMs: number } | null;
  startSeen?: Summary;
  changeFromRequest?: Summary;
  changeFromAck?: Summary;
  stopGone?: Summary;
  stopExit?: Summary;
  idle?: Record<string, { rssMB: number; hwmMB: number; cpuPercent: number }>;
}

function statusOf(e: HubEvent): string | undefined {
  const d = e.data as { status?: string; peer?: { status?: string } };
  return d.peer?.status ?? d.status;
}

// ---- peerhub ----

async function benchPeerhub(
  lab: Lab,
  samples: number,
  cycles: number,
  log: (s: string) => void,
): Promise<Side> {
  const NAME = 'Bench';
  const observer = await lab.startHub(1, { nickname: 'Observer', logLevel: 'warn' });
  // The observer hub's event stream read straight from its control socket, as the crash, fleet and
  // collaboration benches do: the observing agent → this process, one hop, like the anchors' observers
  // (zeroconf: the browser's stdout; avahi: the watcher's stdout). `peerhub watch --json` reads the same
  // stream through one more process (README: it adds ≈ 0.5 ms).
  const events = new HubFeed(observer.socket, 'observer');
  await events.connect();
  const seenBy = (pred: (e: HubEvent) => boolean, since: number) =>
    events.waitFor((r) => !r.replayed && pred(r.ev), { since, timeout: 30_000 });
  const startSeen: number[] = [];
  const stopGone: number[] = [];
  const stopExit: number[] = [];
  const fromReq: number[] = [];
  const fromAck: number[] = [];
  const startReady: number[] = [];
  const startReadyCpu: number[] = [];
  let firstBootReady: Side['firstBootReady'] = null;
  for (let c = 0; c < cycles; c++) {
    const firstBoot = !existsSync(join(hubDataDir(lab.node(0)), 'identity'));
    const t0 = performance.now();
    const hub = await lab.startHub(0, { nickname: NAME, logLevel: 'warn', waitReady: false });
    // Its own event stream: agent:ready carries the agent's process uptime and CPU at that moment.
    const own = new HubFeed(hub.socket, 'subject');
    const ownConnected = own.connect(60_000);
    ownConnected.catch(() => undefined); // awaited below
    const found = await seenBy((e) => e.type === 'peer:found' && peerInstance(e.data) === NAME, t0);
    startSeen.push(found.t - t0);
    await ownConnected;
    const ready = await own.waitFor((r) => r.ev.type === 'agent:ready', { timeout: 60_000 });
    own.close();
    const figures = ready.value.ev.data as { readyMs?: number; cpuMs?: number };
    if (firstBoot) firstBootReady = { ms: ready.t - t0, cpuMs: figures.cpuMs ?? NaN };
    else {
      startReady.push(ready.t - t0);
      startReadyCpu.push(figures.cpuMs ?? NaN);
    }
    if (c === 0) {
      for (let k = 0; k < samples; k++) {
        const state = STATES[k % STATES.length] as string;
        const tReq = performance.now();
        await controlPut(hub.socket, '/v1/presence', { status: state });
        const tAck = performance.now();
        const seen = await seenBy(
          (e) => e.type === 'peer:changed' && peerInstance(e.data) === NAME && statusOf(e) === state,
          tReq,
        );
        fromReq.push(seen.t - tReq);
        fromAck.push(seen.t - tAck);
      }
      log(`peerhub: ${samples} status changes, p50 ${percentile(fromReq, 50).toFixed(1)} ms from request`);
    }
    const tStop = performance.now();
    const exit = await hub.stop();
    const lost = await seenBy((e) => e.type === 'peer:lost' && peerInstance(e.data) === NAME, tStop);
    stopGone.push(lost.t - tStop);
    stopExit.push(exit.ms);
    log(
      `peerhub cycle ${c + 1}/${cycles}: seen ${(found.t - t0).toFixed(0)} ms, gone ${(lost.t - tStop).toFixed(0)} ms`,
    );
  }
  events.close();
  await observer.stop();
  return {
    startReady: summarize(startReady), // undefined when no cycle was a later boot
    startReadyCpu: summarize(startReadyCpu),
    firstBootReady,
    startSeen: summarize(startSeen),
    changeFromRequest: summarize(fromReq),
    changeFromAck: summarize(fromAck),
    stopGone: summarize(stopGone),
    stopExit: summarize(stopExit),
  };
}

/**
 * One control-API call over the Unix socket, straight from this process (what `peerhub presence set`
 * does, without the CLI's Node start-up, ≈ 250 ms here, so both stacks are timed from the request).
 */
function controlPut(socketPath: string, path: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        socketPath,
        path,
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${path}: HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`PUT ${path}: timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

// ---- avahi ----

async function benchAvahi(
  lab: Lab,
  samples: number,
  cycles: number,
  log: (s: string) => void,
): Promise<Side> {
  const NAME = 'Bench Avahi';
  const TYPE = '_peerhub._tcp';
  const observer = await lab.startAvahi(3);
  const browse = observer.browseStream(TYPE);
  const txt = await observer.watchTxt(NAME, TYPE); // avahi-browse -r does not report TXT changes
  const subject = await lab.startAvahi(2); // starts its dbus + a first daemon
  await subject.stopDaemon();
  const startSeen: number[] = [];
  const stopGone: number[] = [];
  const stopExit: number[] = [];
  const fromReq: number[] = [];
  const fromAck: number[] = [];
  const seenWith = (pred: (r: AvahiBrowseLine) => boolean, since: number): Promise<{ t: number }> =>
    browse.waitForRecord((r) => r.name === NAME && pred(r), { since, timeout: 30_000 });
  for (let c = 0; c < cycles; c++) {
    const t0 = performance.now();
    await subject.startDaemon();
    const pub = subject.publishUpdatable(NAME, TYPE, 7443, ['v=1', 'st=Online']);
    const found = await seenWith((r) => r.kind === '=', t0);
    startSeen.push(found.t - t0);
    await pub.waitForLine(/established/, 20_000);
    if (c === 0) {
      for (let k = 0; k < samples; k++) {
        const state = STATES[k % STATES.length] as string;
        const tReq = performance.now();
        // seq makes every TXT new (like peerhub's); a TXT equal to one still in the cache is no ItemNew.
        pub.send(`txt v=1 st=${state} seq=${k + 1}`);
        const seenP = txt.waitForRecord((r) => r.st === state && r.seq === String(k + 1), {
          since: tReq,
          timeout: 30_000,
        });
        seenP.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
        await pub.waitForLine(/updated/, 10_000, true);
        const tAck = performance.now();
        const seen = await seenP;
        fromReq.push(seen.t - tReq);
        fromAck.push(seen.t - tAck);
      }
      log(`avahi: ${samples} TXT updates, p50 ${percentile(fromReq, 50).toFixed(1)} ms from request`);
    }
    const tStop = performance.now();
    const exit = await subject.stopDaemon();
    const lost = await seenWith((r) => r.kind === '-', tStop);
    stopGone.push(lost.t - tStop);
    stopExit.push(exit.ms);
    await pub.stop('SIGTERM', 3_000);
    log(
      `avahi cycle ${c + 1}/${cycles}: seen ${(found.t - t0).toFixed(0)} ms, gone ${(lost.t - tStop).toFixed(0)} ms`,
    );
  }
  await browse.stop();
  await txt.stop();
  return {
    startSeen: summarize(startSeen),
    changeFromRequest: summarize(fromReq),
    changeFromAck: summarize(fromAck),
    stopGone: summarize(stopGone),
    stopExit: summarize(stopExit),
  };
}

// ---- idle ----

function memKB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function idle(pids: Record<string, number>, seconds: number): Promise<Side['idle']> {
  const t0 = performance.now();
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuTicks(p)]));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (performance.now() - t0) / 1000;
  const out: NonNullable<Side['idle']> = {};
  for (const [k, p] of Object.entries(pids)) {
    const cpu = (cpuTicks(p) - (c0[k] as number)) / CLK_TCK;
    out[k] = {
      rssMB: Math.round(memKB(p, 'VmRSS') / 102.4) / 10,
      hwmMB: Math.round(memKB(p, 'VmHWM') / 102.4) / 10,
      cpuPercent: Math.round((cpu / wall) * 10000) / 100,
    };
  }
  return out;
}

const IDLE_SETTLE_MS = 30_000;

async function benchIdle(
  lab: Lab,
  seconds: number,
  log: (s: string) => void,
): Promise<Record<string, Side['idle']>> {
  const hub = lab.running(0) ? lab.hub(0) : await lab.startHub(0, { nickname: 'Bench', logLevel: 'warn' });
  if (!lab.running(1)) await lab.startHub(1, { nickname: 'Observer', logLevel: 'warn' });
  const avahi = await lab.startAvahi(2);
  const pub = avahi.publishUpdatable('Bench Avahi', '_peerhub._tcp', 7443, ['v=1', 'st=Online']);
  await pub.waitForLine(/established/, 20_000);
  await lab.startAvahi(3);
  // Settle: announcements, the first browse queries (1, 2, 4, 8, 16 s), the observer's verification and
  // the start-up's compilation and garbage are over; an agent 5 s old is not idle yet (≈ 0.3–0.5 % CPU
  // over the next minute against ≈ 0.07 % once settled, on this machine).
  await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
  log(`idle: measuring ${seconds} s`);
  const pids: Record<string, number> = {
    'peerhub agent': hub.pid as number,
    'avahi-daemon': avahi.pid as number,
  };
  if (avahi.busPid) pids['dbus-daemon (avahi)'] = avahi.busPid;
  return { processes: await idle(pids, seconds) };
}

// ---- report ----

function fmt(s: Summary | undefined): string {
  return s ? `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)} (n=${s.n})` : '—';
}

function ratio(a: Summary | undefined, b: Summary | undefined): string {
  return a && b && b.p50 > 0 ? `${(a.p50 / b.p50).toFixed(2)}×` : '—';
}

function table(peerhub: Side, avahi: Side, idleRows: Side['idle'], zc: ZeroconfSide = {}): string {
  const rows: [string, Summary | undefined, Summary | undefined, Summary | undefined][] = [
    ['start → seen by a peer', peerhub.startSeen, avahi.startSeen, zc.startSeen],
    [
      'status change → seen (from request)',
      peerhub.changeFromRequest,
      avahi.changeFromRequest,
      zc.changeFromRequest,
    ],
    ['status change → seen (from ack)', peerhub.changeFromAck, avahi.changeFromAck, zc.changeFromAck],
    ['graceful stop → gone', peerhub.stopGone, avahi.stopGone, zc.stopGone],
    ['SIGTERM → process exit', peerhub.stopExit, avahi.stopExit, zc.stopExit],
    ['agent start → ready (later boots)', peerhub.startReady, undefined, undefined],
    ['agent CPU until ready, ms', peerhub.startReadyCpu, undefined, undefined],
  ];
  const withZc = Object.keys(zc).length > 0;
  const lines = [
    `${'latency, ms: p50 / p99'.padEnd(38)}${'peerhub'.padEnd(26)}${'avahi'.padEnd(26)}${withZc ? 'zeroconf'.padEnd(26) : ''}peerhub/avahi p50${withZc ? ', peerhub/zeroconf p50' : ''}`,
    ...rows.map(
      ([k, a, b, z]) =>
        `${k.padEnd(38)}${fmt(a).padEnd(26)}${fmt(b).padEnd(26)}${withZc ? fmt(z).padEnd(26) : ''}${ratio(a, b)}${withZc ? `, ${ratio(a, z)}` : ''}`,
    ),
    ...(peerhub.firstBootReady
      ? [
          `${'agent first boot → ready'.padEnd(38)}${peerhub.firstBootReady.ms.toFixed(0)} ms, CPU ${peerhub.firstBootReady.cpuMs} ms`,
        ]
      : []),
    '',
    `${'idle process'.padEnd(38)}${'RSS MB'.padEnd(12)}${'peak MB'.padEnd(12)}CPU %`,
    ...Object.entries(idleRows ?? {}).map(
      ([k, v]) => `${k.padEnd(38)}${String(v.rssMB).padEnd(12)}${String(v.hwmMB).padEnd(12)}${v.cpuPercent}`,
    ),
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string', default: '30' },
      cycles: { type: 'string', default: '10' },
      idle: { type: 'string', default: '60' },
      only: { type: 'string', default: 'peerhub,avahi,idle' },
      out: { type: 'string', default: join(repoRoot(), 'docs/bench/latest.json') },
      // test/bench/trust.ts (--only trust); read there
      parts: { type: 'string' },
      handshakes: { type: 'string' },
      requests: { type: 'string' },
      contacts: { type: 'string' },
      writes: { type: 'string' },
      'trust-out': { type: 'string' },
      // test/bench/collab.ts (--only collab); read there
      invites: { type: 'string' },
      accepts: { type: 'string' },
      cold: { type: 'string' },
      messages: { type: 'string' },
      members: { type: 'string' },
      batch: { type: 'string' },
      'collab-log-level': { type: 'string' },
      'collab-out': { type: 'string' },
      // test/bench/zeroconf.ts, crash.ts, fleet.ts, report.ts
      'zeroconf-out': { type: 'string', default: join(repoRoot(), 'docs/bench/zeroconf.json') },
      'crash-samples': { type: 'string' },
      'crash-cap': { type: 'string' },
      'crash-out': { type: 'string' },
      fleet: { type: 'string' },
      'fleet-tools': { type: 'string' },
      'fleet-window': { type: 'string' },
      'fleet-settle': { type: 'string' },
      'fleet-deadline': { type: 'string' },
      'join-samples': { type: 'string' },
      'fleet-out': { type: 'string' },
      'no-report': { type: 'boolean', default: false },
    },
  });
  const samples = Math.max(1, Math.min(500, Number(values.samples)));
  const cycles = Math.max(1, Math.min(100, Number(values.cycles)));
  const idleS = Math.max(1, Math.min(600, Number(values.idle)));
  const only = new Set(String(values.only).split(','));
  const args = process.argv.slice(2);
  if (only.delete('crash')) {
    // kill -9 → gone; own lab (docs/bench/crash.json).
    const code = await runCrashBench(crashOptionsFromArgs(args));
    if (only.size === 0 || code !== 0) return code;
  }
  if (only.delete('presence-cpu')) {
    // In-memory LAN, no lab: run with the agent's Node flags in a child (docs/bench/presence-cpu.json).
    const child = spawnSync(
      process.execPath,
      [
        ...unitNodeFlags(),
        join(repoRoot(), 'dist/test/bench/presence-cpu.js'),
        '--out',
        join(repoRoot(), 'docs/bench/presence-cpu.json'),
      ],
      { stdio: 'inherit' },
    );
    if (only.size === 0 || child.status !== 0) return child.status ?? 1;
  }
  if (only.delete('fleet')) {
    // 10/50/100 hubs per tool; own lab (docs/bench/fleet.json).
    const code = await runFleetBench(fleetOptionsFromArgs(args));
    if (only.size === 0 || code !== 0) return code;
  }
  if (only.delete('trust')) {
    // The trust benchmark has its own lab and report (docs/bench/trust.json).
    const code = await runTrustBench(trustOptionsFromArgs(process.argv.slice(2)));
    if (only.size === 0 || code !== 0) return code;
  }
  if (only.delete('collab')) {
    // The collaboration benchmark has its own lab (a host and 50 members) and report (docs/bench/collab.json).
    const code = await runCollabBench(collabOptionsFromArgs(process.argv.slice(2)));
    if (only.size === 0 || code !== 0) return code;
  }
  if (!(await labAvailable())) {
    console.error(`bench: ${LAB_SKIP}`);
    return 2;
  }
  if ((only.has('peerhub') || only.has('idle')) && !agentBuilt()) {
    console.error(`bench: agent not built (${agentCliPath()}): run npm run build`);
    return 2;
  }
  const log = (s: string): void => console.error(`# ${s}`);
  const teardowns: (() => unknown)[] = [];
  let ok = true;
  const tap: Teardown = { teardown: (fn) => teardowns.push(fn), passing: () => ok };
  const started = new Date();
  try {
    const withZc = only.has('zeroconf');
    const lab = await createLab(tap, { hubs: withZc ? 6 : 4 });
    log(
      `lab ${lab.id}: 10.77.${lab.subnet}.0/16, ${samples} samples, ${cycles} start/stop cycles, idle ${idleS} s`,
    );
    const peerhub = only.has('peerhub') ? await benchPeerhub(lab, samples, cycles, log) : {};
    const avahi = only.has('avahi') ? await benchAvahi(lab, samples, cycles, log) : {};
    const zeroconf: ZeroconfSide = withZc
      ? await benchZeroconf(lab, { subject: 4, observer: 5 }, samples, cycles)
      : {};
    const idleRows = only.has('idle') ? (await benchIdle(lab, idleS, log)).processes : undefined;
    peerhub.idle = idleRows && {
      'peerhub agent': idleRows['peerhub agent'] as NonNullable<Side['idle']>[string],
    };
    console.log(table(peerhub, avahi, idleRows, zeroconf));
    if (withZc) {
      writeFileSync(
        values['zeroconf-out'] as string,
        JSON.stringify(
          {
            date: started.toISOString(),
            durationS: Math.round((Date.now() - started.getTime()) / 1000),
            machine: {
              node: process.version,
              cpus: cpus().length,
              cpu: cpus()[0]?.model,
              kernel: release(),
              loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
            },
            config: { samples, cycles, parts: [...only] },
            units: 'milliseconds; p50/p99 nearest-rank',
            zeroconf,
            // the peerhub side of the same run, if it ran (the ratio's numerator)
            ...(only.has('peerhub') ? { peerhub: { ...peerhub, idle: undefined } } : {}),
            notes: ZEROCONF_NOTES,
          },
          null,
          2,
        ) + '\n',
      );
      log(`wrote ${values['zeroconf-out']}`);
    }
    if (!only.has('peerhub') && !only.has('avahi') && !only.has('idle')) return 0; // keep latest.json
    const report = {
      date: started.toISOString(),
      durationS: Math.round((Date.now() - started.getTime()) / 1000),
      machine: {
        node: process.version,
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        kernel: release(),
        loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
      },
      config: { samples, cycles, idleSeconds: idleS, parts: [...only], agentNodeFlags: unitNodeFlags() },
      units: 'milliseconds unless named; p50/p99 nearest-rank',
      peerhub,
      avahi,
      idle: idleRows,
      notes: [
        'start → seen: peerhub = spawn of the agent process until the observer hub emits peer:found; avahi = spawn of avahi-daemon, then a D-Bus publisher once the daemon is up, until avahi-browse -rp prints the resolved service.',
        'status change: peerhub = PUT /v1/presence on the control socket, as `peerhub presence set` sends it (request: call made; ack: response received; the CLI adds its own Node start-up, about 250 ms here) until observer peer:changed; avahi = EntryGroup.UpdateServiceTxt (request: command written to the helper; ack: call returned) until the observer daemon cache holds the new TXT (D-Bus RecordBrowser ItemNew, test/lab/avahi_watch_txt.py: avahi-browse -r resolves once and never reports a TXT change).',
        'graceful stop: SIGTERM to the agent / avahi-daemon until the observer reports removal (goodbye packets).',
        'agent start → ready (peerhub only): spawn of the agent (through `ip netns exec`) until its agent:ready event (read from its own control socket; stamped by the agent when it was emitted before this process connected): RFC 6762 probing and the first announcement, then the peer API, the panel and the control API. CPU: user + system of the agent process at that moment, as the agent reports it on agent:ready (process.cpuUsage). Later boots = cycles with the identity already on disk; first boot = the first cycle, data directory empty (RSA-2048 root and TLS keys made).',
        'idle: RSS (VmRSS) and CPU of the subject agent (its observer running) and of avahi-daemon + its dbus-daemon over the same window, which starts 30 s after the processes were started (runs before 2026-12-02 19:00 UTC started it after 5 s, inside the start-up’s queries and verification).',
        'all in network namespaces on one bridge of this machine; the observers are a peerhub agent and an avahi-daemon respectively.',
        'peerhub observer events: its GET /v1/events stream on the control socket, read by this process and stamped on arrival (as the crash, fleet and collaboration benches do; one hop, like the anchors’ observers printing to stdout). Runs before 2026-12-02 18:00 UTC read `peerhub watch --json`, one process more (≈ 0.5 ms more per event here).',
      ],
    };
    mkdirSync(dirname(values.out as string), { recursive: true });
    writeFileSync(values.out as string, JSON.stringify(report, null, 2) + '\n');
    log(`wrote ${values.out}`);
    return 0;
  } catch (err) {
    ok = false;
    console.error(err instanceof Error ? err.stack : err);
    return 1;
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}

const code = await main();
if (!process.argv.includes('--no-report')) {
  try {
    writePerformanceReport(repoRoot());
  } catch (err) {
    console.error(`bench: report: ${err instanceof Error ? err.stack : String(err)}`);
  }
}
process.exitCode = code;
