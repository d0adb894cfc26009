/**
 * Torture part "floods" (issue 7): real agents in the LAN lab under load they did not ask for.
 * - mDNS: a mixed flood (valid queries, valid responses announcing random _peerhub instances, garbage)
 *   from its own node at N packets/s (bounded 2,000/s × 10 s; long 10,000/s × 60 s): the hub keeps
 *   answering `peerhub status`, a witness hub still sees its presence change made mid-flood, the cache
 *   stays within CACHE_MAX_ENTRIES, memory is bounded, the counters (agent and kernel) show the flood.
 * - TLS: 1,000 concurrent connection attempts on the peer API (peer_client.mjs storm): every attempt
 *   settles, a legitimate peer is served during (with retries) and after, fds and memory come back.
 * - Slow clients: TLS ClientHellos sent byte by byte, authenticated HTTP/2 POSTs whose body never ends,
 *   and slow/silent clients on the control socket: all dropped by the hub's time-outs while a peer and
 *   `peerhub status` are answered; file descriptors return to where they were.
 * Scenario functions are shared with the bounded tap subset (floods.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatPeerId } from '../../firmware/identity/index.js';
import { CACHE_MAX_ENTRIES } from '../../firmware/presence/constants.js';
import {
  repoRoot,
  waitFor,
  type Hub,
  type Lab,
  type PeerCredentials,
  type StormResult,
} from '../lab/harness.js';
import { CLK_TCK, cpuTicks, run as runCmd } from '../lab/proc.js';
import {
  Checks,
  delta,
  every,
  fdCount,
  loadavg,
  partLab,
  peakSampler,
  rssMB,
  udpCounters,
  type Outcome,
} from './checks.js';
import { makePeer } from '../unit/wire/helpers.js';
import type { TorturePart, TortureRow } from './types.js';

export const FLOOD_BOUNDS = {
  bounded: {
    mdnsRate: 2000,
    mdnsSeconds: 10,
    storm: 1000,
    slowHello: 100,
    slowSessions: 4,
    slowStreams: 10,
    slowControl: 60,
  },
  long: {
    mdnsRate: 10_000,
    mdnsSeconds: 60,
    storm: 1000,
    slowHello: 400,
    slowSessions: 8,
    slowStreams: 30,
    slowControl: 240,
  },
};
/** Generous bounds: the agent idles at ≈ 65–100 MB here. */
export const RSS_LIMIT_MB = 512;

export interface FloodLab {
  lab: Lab;
  target: Hub; // node 0
  witness: Hub; // node 1
  attacker: number; // node 2: no hub, the flood's source
  targetId: string;
  witnessCreds: PeerCredentials;
  targetCa: string;
}

/**
 * A throwaway identity (any self-signed root is a valid caller of the peer API), written as PEM files
 * in `dir`: the attacker's own peer id, so the per-peer session limit of the witness is not what stops it.
 */
export async function mintIdentity(dir: string, name: string): Promise<PeerCredentials> {
  const peer = await makePeer();
  const [leaf, root] = peer.creds.chainPem as [string, string];
  const file = (ext: string, text: string): string => {
    const p = join(dir, `${name}.${ext}`);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  return {
    cert: file('cert.pem', leaf),
    key: file('key.pem', peer.creds.keyPem),
    chain: file('root.pem', root),
  };
}

/** Three nodes: the target hub, a witness hub that sees it, and an attacker node. */
export async function floodLab(lab: Lab): Promise<FloodLab> {
  const [target, witness] = await Promise.all([
    lab.startHub(0, { nickname: 'Target', logLevel: 'info', readyTimeout: 120_000 }),
    lab.startHub(1, { nickname: 'Witness', logLevel: 'info', readyTimeout: 120_000 }),
  ]);
  const st = await target.status();
  await witness.waitPeer((p) => p.id === st.id && p.verified === true, { timeout: 30_000 });
  const W = witness.identity();
  return {
    lab,
    target,
    witness,
    attacker: 2,
    targetId: st.id,
    witnessCreds: { cert: W.tlsCert, key: W.tlsKey, chain: W.rootCert },
    targetCa: target.identity().rootCert,
  };
}

/** `peerhub status` of the target, timed; null when it did not answer. */
async function timedStatus(h: Hub): Promise<{ ms: number; counters: Record<string, number> } | null> {
  const t0 = performance.now();
  try {
    const s = await h.status();
    return { ms: performance.now() - t0, counters: s.counters };
  } catch {
    return null;
  }
}

// ---- mDNS flood ------------------------------------------------------------------------------------

export async function mdnsFlood(
  f: FloodLab,
  o: { rate: number; seconds: number; seed: number; mix?: string; log?: (l: string) => void },
): Promise<Outcome> {
  const c = new Checks();
  const mix = o.mix ?? 'query=3,response=4,garbage=3';
  const { lab, target, witness } = f;
  const pid = target.pid;
  const ids = Array.from({ length: 256 }, () => formatPeerId(randomBytes(32)));
  const idsFile = join(lab.node(f.attacker).dir, 'flood-ids.txt');
  writeFileSync(idsFile, ids.join('\n') + '\n');
  const before = (await target.status()).counters;
  const udpBefore = await udpCounters(lab, 0);
  const rssBefore = rssMB(pid);
  const cpuBefore = pid === undefined ? 0 : cpuTicks(pid);
  c.fig('loadavg1', loadavg());
  c.fig('rate', o.rate);
  c.fig('mix', mix);
  c.fig('seconds', o.seconds);
  c.fig('rssBeforeMB', rssBefore);

  const rss = peakSampler(500, () => rssMB(pid));
  let maxCache = 0;
  let statusCalls = 0;
  let statusFailed = 0;
  let statusMaxMs = 0;
  const stopStatus = every(2000, async () => {
    const s = await timedStatus(target);
    statusCalls++;
    if (!s) return void statusFailed++;
    statusMaxMs = Math.max(statusMaxMs, s.ms);
    maxCache = Math.max(maxCache, s.counters.cacheEntries ?? 0);
  });
  const t0 = performance.now();
  const flood = lab.exec(
    f.attacker,
    '/usr/bin/python3',
    [
      join(repoRoot(), 'test/lab/mdns_storm.py'),
      'flood',
      '--interface',
      lab.address(f.attacker),
      '--rate',
      String(o.rate),
      '--seconds',
      String(o.seconds),
      '--seed',
      String(o.seed),
      '--ids-file',
      idsFile,
      '--mix',
      mix,
    ],
    { timeoutMs: (o.seconds + 60) * 1000 },
  );
  // Mid-flood, the target's owner changes its presence: the witness must see it.
  await new Promise((r) => setTimeout(r, Math.min(3000, (o.seconds * 1000) / 3)));
  const text = `flood ${o.seed}`;
  const changedAt = performance.now();
  // The owner retries like a person would: each `presence set` gives up after the CLI's 10 s.
  let setAttempts = 0;
  const set = await c.step('presence set during the flood', async () => {
    for (;;) {
      setAttempts++;
      try {
        return await target.setPresence('Busy', text);
      } catch (e) {
        if (setAttempts >= 6) throw e;
      }
    }
  });
  c.fig('presenceSetAttempts', setAttempts);
  c.fig('presenceSetMs', Math.round(performance.now() - changedAt));
  const seen = set
    ? await c.step('the witness sees the change', () =>
        witness.waitPeer((p) => p.id === f.targetId && p.status === 'Busy', {
          timeout: 60_000 + o.seconds * 1000,
        }),
      )
    : null;
  const seenMs = performance.now() - changedAt;
  const seenDuring = performance.now() - t0 < o.seconds * 1000;
  const r = await flood;
  await stopStatus();
  const rssPeak = Math.max(await rss.stop(), rssMB(pid, 'VmHWM') > rssBefore ? rssMB(pid, 'VmHWM') : 0);
  const sent =
    r.code === 0
      ? r.json<{ sent: number; byKind: Record<string, number>; rate: number; errors: number }>()
      : null;
  c.ok(r.code === 0 && sent, `the flood ran (${r.code}: ${r.stderr.trim().slice(0, 200)})`);
  c.fig('sent', sent?.sent);
  c.fig('sentRate', sent?.rate);
  for (const [k, v] of Object.entries(sent?.byKind ?? {})) c.fig(`sent.${k}`, v);
  c.ok(seen, 'a legitimate peer (the witness) saw the presence change made during the flood');
  c.fig('witnessSawChangeMs', seen ? Math.round(seenMs) : 'never');
  c.fig('witnessSawChangeDuringFlood', seen ? String(seenDuring) : 'no');
  c.ok(target.running, 'the target agent is still running');
  c.ok(
    statusCalls > 0 && statusFailed === 0,
    `peerhub status answered during the flood (${statusCalls - statusFailed}/${statusCalls})`,
  );
  c.fig('statusCallsDuring', statusCalls);
  c.fig('statusMaxMs', Math.round(statusMaxMs));

  const after = (await target.status()).counters;
  const udpAfter = await udpCounters(lab, 0);
  const processed = delta(after, before, 'packetsIn');
  const kernelDropped = delta(udpAfter, udpBefore, 'RcvbufErrors');
  c.fig('agentPacketsIn', processed);
  // CPU the agent spent per packet it read: independent of how busy the machine was.
  const cpuMs = pid === undefined ? 0 : ((cpuTicks(pid) - cpuBefore) * 1000) / CLK_TCK;
  c.fig('agentCpuS', cpuMs / 1000);
  c.fig('agentCpuMsPerPacket', processed > 0 ? Math.round((cpuMs / processed) * 100) / 100 : 'n/a');
  c.fig('agentPacketsPerCpuS', cpuMs > 0 ? Math.round((processed * 1000) / cpuMs) : 'n/a');
  c.fig('agentMalformed', delta(after, before, 'malformed'));
  c.fig('agentRateLimited', delta(after, before, 'rateLimited'));
  c.fig('agentQueriesAnswered', delta(after, before, 'queriesAnswered'));
  c.fig('kernelRcvbufDrops', kernelDropped);
  c.fig('cacheEntriesMax', Math.max(maxCache, after.cacheEntries ?? 0));
  c.fig('peersAfter', after.peers ?? 0);
  c.fig('nearbyChecks', delta(after, before, 'nearby.checks'));
  c.ok(
    processed > 0 && (!/garbage/.test(mix) || delta(after, before, 'malformed') > 0),
    `the agent counted the flood (packetsIn +${processed}, malformed +${delta(after, before, 'malformed')})`,
  );
  c.ok(
    Math.max(maxCache, after.cacheEntries ?? 0) <= CACHE_MAX_ENTRIES,
    `cache within CACHE_MAX_ENTRIES (${Math.max(maxCache, after.cacheEntries ?? 0)} ≤ ${CACHE_MAX_ENTRIES})`,
  );
  const rssAfter = rssMB(pid);
  c.fig('rssPeakMB', rssPeak);
  c.fig('rssAfterMB', rssAfter);
  c.ok(rssPeak < RSS_LIMIT_MB, `peak RSS ${rssPeak.toFixed(0)} MB < ${RSS_LIMIT_MB} MB`);
  c.fig('wallS', Math.round((performance.now() - t0) / 100) / 10);

  // Afterwards: a second change is seen too, and the hub still sees the witness.
  await c.step('after the flood', async () => {
    await target.setPresence('Online', 'after the flood');
    await witness.waitPeer((p) => p.id === f.targetId && p.status === 'Online', { timeout: 60_000 });
  });
  o.log?.(`mdns flood: ${JSON.stringify(c.figures)}`);
  return c.outcome(
    `mDNS flood ${o.rate}/s × ${o.seconds} s (${mix})`,
    'status answered throughout, the witness saw a change made mid-flood, cache ≤ CACHE_MAX_ENTRIES, RSS bounded',
  );
}

// ---- TLS storm ------------------------------------------------------------------------------------

export async function tlsStorm(f: FloodLab, o: { n: number; log?: (l: string) => void }): Promise<Outcome> {
  const c = new Checks();
  const { lab, target } = f;
  const pid = target.pid;
  const at = lab.address(0);
  const fdBefore = fdCount(pid);
  const rssBefore = rssMB(pid);
  const before = (await target.status()).counters;
  c.fig('loadavg1', loadavg());
  c.fig('attempts', o.n);
  c.fig('fdBefore', fdBefore);
  c.fig('rssBeforeMB', rssBefore);
  const fds = peakSampler(200, () => fdCount(pid));
  const rss = peakSampler(500, () => rssMB(pid));
  let stormDone = false;
  let legitDuring = 0;
  let legitDuringOk = 0;
  let firstOkMs: number | null = null;
  const t0 = performance.now();
  const legit = (async () => {
    while (!stormDone) {
      const r = await lab.peerRequest(1, at, { creds: f.witnessCreds, ca: f.targetCa }).catch(() => null);
      if (stormDone) break;
      legitDuring++;
      if (r?.status === 200) {
        legitDuringOk++;
        firstOkMs ??= performance.now() - t0;
      }
    }
  })();
  const storm = await c.step('storm', () =>
    lab.peerClient<StormResult>(f.attacker, 'storm', at, {
      creds: f.witnessCreds, // every second attempt presents a valid certificate, the others none
      args: ['--n', String(o.n), '--cert-every', '2', '--hold-ms', '1000', '--deadline-ms', '90000'],
      timeoutMs: 120_000,
    }),
  );
  stormDone = true;
  const stormMs = performance.now() - t0;
  await legit;
  c.fig('stormMs', Math.round(stormMs));
  if (storm) {
    c.fig('handshakes', storm.secure);
    c.fig('closedByServer', storm.closedByServer);
    c.fig('refused', storm.refused);
    c.fig('pending', storm.pending);
    c.ok(storm.pending === 0, `every attempt settled before the deadline (${storm.pending} pending)`);
    c.ok(storm.secure > 0, `handshakes completed (${storm.secure})`);
  }
  c.fig('legitDuring', `${legitDuringOk}/${legitDuring}`);
  c.fig('legitFirstOkMs', firstOkMs === null ? 'none' : Math.round(firstOkMs));
  const after = await lab.peerRequest(1, at, { creds: f.witnessCreds, ca: f.targetCa });
  c.ok(
    after.status === 200 && after.serverId === f.targetId,
    `a peer is served after the storm (${after.status ?? after.error})`,
  );
  c.ok(target.running, 'the agent is still running');
  const st = await timedStatus(target);
  c.ok(st, 'peerhub status answers');
  const now = st?.counters ?? {};
  c.fig('wire.refusedConnections', delta(now, before, 'wire.refusedConnections'));
  c.fig('wire.rejectedChains', delta(now, before, 'wire.rejectedChains'));
  c.fig('wire.refusedSessions', delta(now, before, 'wire.refusedSessions'));
  c.fig('wire.refusedPerAddress', delta(now, before, 'wire.refusedPerAddress'));
  const fdPeak = await fds.stop();
  const rssPeak = await rss.stop();
  c.fig('fdPeak', fdPeak);
  c.fig('rssPeakMB', rssPeak);
  const settled = await waitFor(() => (fdCount(pid) <= fdBefore + 16 ? fdCount(pid) : null), {
    timeout: 60_000,
    interval: 500,
  }).catch(() => null);
  c.fig('fdAfter', fdCount(pid));
  c.fig('rssAfterMB', rssMB(pid));
  c.ok(settled !== null, `file descriptors back near their level (${fdCount(pid)} ≤ ${fdBefore} + 16)`);
  c.ok(rssPeak < RSS_LIMIT_MB, `peak RSS ${rssPeak.toFixed(0)} MB < ${RSS_LIMIT_MB} MB`);
  o.log?.(`tls storm: ${JSON.stringify(c.figures)}`);
  return c.outcome(
    `${o.n} concurrent TLS connection attempts on the peer API`,
    'every attempt settled, a peer served after (and during, see legitDuring), fds back, RSS bounded',
  );
}

// ---- slow clients ----------------------------------------------------------------------------------

interface SlowResult {
  n: number;
  opened: number;
  closedByServer: number;
  answeredByServer: number;
  pending: number;
  refused: number;
  errors: Record<string, number>;
  closeMs: { min: number | null; p50: number | null; max: number | null };
  byKind?: Record<string, { n: number; closed: number; answered: number }>;
  ms: number;
}

export async function slowClients(
  f: FloodLab,
  o: { hello: number; sessions: number; streams: number; control: number; log?: (l: string) => void },
): Promise<Outcome> {
  const c = new Checks();
  const { lab, target } = f;
  const pid = target.pid;
  const at = lab.address(0);
  const script = join(repoRoot(), 'test/lab/slow_clients.mjs');
  const fdBefore = fdCount(pid);
  const before = (await target.status()).counters;
  c.fig('loadavg1', loadavg());
  c.fig('fdBefore', fdBefore);
  const fds = peakSampler(200, () => fdCount(pid));
  let done = false;
  let legit = 0;
  let legitOk = 0;
  let statusN = 0;
  let statusOk = 0;
  const W = f.witnessCreds;
  const others = (async () => {
    await new Promise((r) => setTimeout(r, 3000)); // the slow clients are connected by then
    while (!done) {
      const [p, s] = await Promise.all([
        lab.peerRequest(1, at, { creds: W, ca: f.targetCa }).catch(() => null),
        timedStatus(target),
      ]);
      if (done) break;
      legit++;
      statusN++;
      if (p?.status === 200) legitOk++;
      if (s) statusOk++;
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  // Slow TLS hellos from the attacker's node; slow HTTP/2 bodies, with the attacker's own identity,
  // from the witness's node (the hub limits connections per address: the hellos would take the
  // attacker's share), which also sends the legitimate requests under the witness's identity.
  const M = await mintIdentity(lab.node(f.attacker).dir, 'mallory');
  const node = (args: string[], timeoutMs: number, from = f.attacker) =>
    lab.exec(from, process.execPath, [script, ...args], { timeoutMs }).then((r) => {
      if (r.code !== 0)
        throw new Error(`slow_clients ${args[0]}: ${r.code} ${r.stderr.trim().slice(0, 200)}`);
      return r.json<SlowResult>();
    });
  const [hello, body, control] = await Promise.all([
    c.step('slow TLS hellos', () =>
      node(
        ['tls-hello', '--host', at, '--n', String(o.hello), '--byte-ms', '500', '--deadline-ms', '60000'],
        90_000,
      ),
    ),
    c.step('slow HTTP/2 bodies', () =>
      node(
        [
          'h2-body',
          '--host',
          at,
          '--cert',
          M.cert,
          '--key',
          M.key,
          '--chain',
          M.chain as string,
          '--sessions',
          String(o.sessions),
          '--streams',
          String(o.streams),
          '--byte-ms',
          '500',
          '--deadline-ms',
          '60000',
        ],
        90_000,
        1,
      ),
    ),
    c.step('slow control clients', async () => {
      const r = await runCmd(
        process.execPath,
        [
          script,
          'control',
          '--socket',
          target.socket,
          '--n',
          String(o.control),
          '--byte-ms',
          '500',
          '--deadline-ms',
          '120000',
        ],
        { timeoutMs: 150_000 },
      );
      if (r.code !== 0) throw new Error(`slow_clients control: ${r.code} ${r.stderr.trim().slice(0, 200)}`);
      return r.json<SlowResult>();
    }),
  ]);
  done = true;
  await others;
  const fdPeak = await fds.stop();
  const report = (name: string, r: SlowResult | null): void => {
    if (!r) return;
    c.fig(`${name}.opened`, r.opened);
    c.fig(`${name}.closedByServer`, r.closedByServer);
    c.fig(`${name}.answeredFirst`, r.answeredByServer);
    c.fig(`${name}.pending`, r.pending);
    c.fig(`${name}.refused`, r.refused);
    c.fig(`${name}.closeP50Ms`, r.closeMs.p50 ?? 'none');
    c.fig(`${name}.closeMaxMs`, r.closeMs.max ?? 'none');
    c.ok(r.opened > 0, `${name}: connections opened (${r.opened}/${r.n})`);
    c.ok(
      r.pending === 0 && r.closedByServer === r.opened,
      `${name}: every slow client dropped by the hub (${r.closedByServer}/${r.opened}, ${r.pending} left at the deadline)`,
    );
  };
  report('tlsHello', hello);
  report('h2Body', body);
  report('control', control);
  for (const [k, v] of Object.entries(control?.byKind ?? {})) c.fig(`control.${k}`, `${v.closed}/${v.n}`);
  c.fig('peerDuring', `${legitOk}/${legit}`);
  c.fig('statusDuring', `${statusOk}/${statusN}`);
  c.ok(
    legit > 0 && legitOk > 0,
    `a peer was served while the slow clients were connected (${legitOk}/${legit})`,
  );
  c.ok(statusN > 0 && statusOk === statusN, `peerhub status answered throughout (${statusOk}/${statusN})`);
  const after = (await timedStatus(target))?.counters ?? {};
  c.fig('wire.requestTimeouts', delta(after, before, 'wire.requestTimeouts'));
  c.fig('wire.refusedConnections', delta(after, before, 'wire.refusedConnections'));
  c.fig('wire.refusedPerAddress', delta(after, before, 'wire.refusedPerAddress'));
  // Each slow body either ran into the request time-out (counted) or was answered first (the per-peer
  // rate limit answers 429 before the body is complete).
  const timedOut = delta(after, before, 'wire.requestTimeouts');
  c.ok(
    body === null || timedOut + body.answeredByServer >= body.opened,
    `slow bodies: ${timedOut} request time-outs counted + ${body?.answeredByServer ?? 0} answered early ≥ ${body?.opened ?? 0}`,
  );
  c.fig('fdPeak', fdPeak);
  const settled = await waitFor(() => (fdCount(pid) <= fdBefore + 16 ? fdCount(pid) : null), {
    timeout: 60_000,
    interval: 500,
  }).catch(() => null);
  c.fig('fdAfter', fdCount(pid));
  c.ok(settled !== null, `file descriptors back near their level (${fdCount(pid)} ≤ ${fdBefore} + 16)`);
  c.ok(fdPeak < fdBefore + o.hello + o.sessions + o.control + 64, `fds bounded during (peak ${fdPeak})`);
  c.ok(target.running, 'the agent is still running');
  o.log?.(`slow clients: ${JSON.stringify(c.figures)}`);
  return c.outcome(
    `slow clients: ${o.hello} byte-by-byte TLS hellos, ${o.sessions * o.streams} never-ending HTTP/2 bodies, ${o.control} slow control-socket clients`,
    'all dropped: beyond 32 per address at once, the rest by the time-outs (TLS handshake 10 s, request body 10 s or a 429, control headers 20 s / request 30 s) while a peer and status were answered; fds back',
  );
}

// ---- the part -------------------------------------------------------------------------------------

export const run: TorturePart = async (opts) => {
  const started = Date.now();
  const b = opts.long ? FLOOD_BOUNDS.long : FLOOD_BOUNDS.bounded;
  const rows: TortureRow[] = [];
  const notes: string[] = [];
  const one = async (name: string, fn: (f: FloodLab) => Promise<Outcome>): Promise<void> => {
    // A fresh lab per scenario: fake peers left by one flood must not weigh on the next.
    const { lab, close } = await partLab(3);
    try {
      const out = await fn(await floodLab(lab));
      rows.push(out.row);
    } catch (e) {
      rows.push({ name, result: 'fail', figures: {}, detail: (e as Error).message.split('\n')[0] });
    } finally {
      await close();
    }
  };
  await one('TLS storm', (f) => tlsStorm(f, { n: b.storm, log: opts.log }));
  await one('slow clients', (f) =>
    slowClients(f, {
      hello: b.slowHello,
      sessions: b.slowSessions,
      streams: b.slowStreams,
      control: b.slowControl,
      log: opts.log,
    }),
  );
  await one('mDNS flood', (f) =>
    mdnsFlood(f, { rate: b.mdnsRate, seconds: b.mdnsSeconds, seed: opts.seed, log: opts.log }),
  );
  notes.push(
    "Lab: real agents in network namespaces on one bridge; the attacker is its own node. Kernel drops are the target namespace's /proc/net/snmp Udp RcvbufErrors.",
  );
  return {
    part: 'floods',
    title: 'Floods: mDNS, TLS connection storms, slow clients',
    date: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    config: {
      ...b,
      long: opts.long,
      seed: opts.seed,
      rssLimitMB: RSS_LIMIT_MB,
      cacheMaxEntries: CACHE_MAX_ENTRIES,
    },
    rows,
    notes,
  };
};
