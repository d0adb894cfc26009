/**
 * Crash → gone: how long a peer keeps listing a hub that died without a word (kill -9), for peerhub
 * (observer hub's event stream: peer:lost), avahi (kill -9 of avahi-daemon; the observer's
 * `avahi-browse -rp` prints the removal) and python3-zeroconf (kill -9 of the publisher; the observer's
 * ServiceBrowser prints remove); and for a peerhub *contact* with a live subscription (kill -9, and a
 * pulled cable: lab.linkDown), until the other hub reports contact:offline. Each wait is capped
 * (--crash-cap, seconds); a sample that hits the cap is reported as "> cap", not dropped.
 *
 *   npm run bench -- --only crash [--crash-samples 3 --crash-cap 300 --crash-out docs/bench/crash.json]
 *
 * The S subjects of a tool run at once (each its own node) and are killed together, each timed from
 * its own kill; the three tools run side by side in the same lab (their waits are idle time).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import {
  createLab,
  labAvailable,
  agentBuilt,
  agentCliPath,
  LAB_SKIP,
  repoRoot,
  type Hub,
  type Lab,
} from '../lab/harness.js';
import {
  HubFeed,
  log,
  machine,
  peerInstance,
  sleep,
  summarize,
  withTeardown,
  writeJson,
  type Summary,
} from './common.js';
import { ZeroconfPeer } from './zeroconf.js';

export interface CrashOptions {
  samples: number;
  capS: number;
  tools: string[];
  out: string;
}

export function crashOptionsFromArgs(argv: string[]): CrashOptions {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: {
      'crash-samples': { type: 'string', default: '3' },
      'crash-cap': { type: 'string', default: '300' },
      'crash-tools': { type: 'string', default: 'peerhub,avahi,zeroconf,contact' },
      'crash-out': { type: 'string', default: join(repoRoot(), 'docs/bench/crash.json') },
    },
  });
  return {
    samples: Math.max(1, Math.min(10, Number(values['crash-samples']))),
    capS: Math.max(5, Math.min(3600, Number(values['crash-cap']))),
    tools: String(values['crash-tools']).split(','),
    out: String(values['crash-out']),
  };
}

/** Samples that ended (ms) and those that hit the cap (null). */
export interface CrashRow {
  ms: (number | null)[];
  capMs: number;
  gone: number;
  capped: number;
  summary?: Summary; // over the samples that ended
  detail?: string;
}

function row(ms: (number | null)[], capMs: number, detail?: string): CrashRow {
  const ended = ms.filter((x): x is number => x !== null);
  return {
    ms: ms.map((x) => (x === null ? null : Math.round(x))),
    capMs,
    gone: ended.length,
    capped: ms.length - ended.length,
    summary: summarize(ended),
    ...(detail ? { detail } : {}),
  };
}

const fmtRow = (r: CrashRow | undefined): string =>
  !r
    ? '—'
    : r.capped > 0
      ? `${r.gone}/${r.ms.length} gone${r.summary ? ` (p50 ${r.summary.p50} ms)` : ''}, ${r.capped} > ${r.capMs / 1000} s`
      : `p50 ${r.summary?.p50} / max ${r.summary?.max} ms (n=${r.gone})`;

/** Wait for `p` up to the cap; null if the cap passed. */
async function capped<T>(p: Promise<{ t: number } & T>, t0: number): Promise<number | null> {
  try {
    return (await p).t - t0;
  } catch (err) {
    if (/within|no matching/.test((err as Error).message)) return null;
    throw err;
  }
}

// ---- strangers ----

/**
 * Each tool its own service type: the three run side by side on one bridge, and a browser's queries
 * for a type would otherwise let another tool's cache drop the dead one early (RFC 6762 §10.5).
 */
const AVAHI_TYPE = '_phcrash-avahi._tcp';
const ZC_TYPE = '_phcrash-zc._tcp.local.';

async function peerhubStrangers(
  lab: Lab,
  observerNode: number,
  subjects: number[],
  capMs: number,
): Promise<CrashRow> {
  const observer = await lab.startHub(observerNode, {
    nickname: 'Crash observer',
    logLevel: 'warn',
    readyTimeout: 120_000,
  });
  const feed = new HubFeed(observer.socket, 'crash-observer');
  await feed.connect();
  const names = subjects.map((_, k) => `Crash ${k + 1}`);
  const hubs: Hub[] = [];
  for (const [k, i] of subjects.entries())
    hubs.push(await lab.startHub(i, { nickname: names[k], logLevel: 'warn', waitReady: false }));
  await Promise.all(hubs.map((h) => h.ready(120_000)));
  for (const n of names)
    await feed.waitFor((r) => r.ev.type === 'peer:found' && peerInstance(r.ev.data) === n, {
      timeout: 60_000,
    });
  await sleep(8_000); // past the announcements: a crash in steady state
  log(`crash: peerhub: ${subjects.length} strangers seen; kill -9`);
  const ms = await Promise.all(
    hubs.map(async (h, k) => {
      const t0 = performance.now();
      await h.kill();
      return capped(
        feed.waitFor((r) => r.ev.type === 'peer:lost' && peerInstance(r.ev.data) === names[k], {
          since: t0,
          timeout: capMs,
        }),
        t0,
      );
    }),
  );
  feed.close();
  await observer.stop();
  log(
    `crash: peerhub strangers: ${ms.map((x) => (x === null ? `> ${capMs} ms` : `${Math.round(x)} ms`)).join(', ')}`,
  );
  return row(ms, capMs);
}

async function avahiStrangers(
  lab: Lab,
  observerNode: number,
  subjects: number[],
  capMs: number,
): Promise<CrashRow> {
  const TYPE = AVAHI_TYPE;
  const observer = await lab.startAvahi(observerNode);
  const browse = observer.browseStream(TYPE);
  const names = subjects.map((_, k) => `Crash Avahi ${k + 1}`);
  const nodes = await Promise.all(subjects.map((i) => lab.startAvahi(i)));
  await Promise.all(nodes.map((a, k) => a.publish(names[k] as string, TYPE, 7443, ['v=1', 'st=Online'])));
  for (const n of names)
    await browse.waitForRecord((r) => r.kind === '=' && r.name === n, { timeout: 60_000 });
  await sleep(8_000);
  log(`crash: avahi: ${subjects.length} daemons seen; kill -9`);
  const ms = await Promise.all(
    nodes.map(async (a, k) => {
      const t0 = performance.now();
      process.kill(a.pid as number, 'SIGKILL');
      return capped(
        browse.waitForRecord((r) => r.kind === '-' && r.name === names[k], { since: t0, timeout: capMs }),
        t0,
      );
    }),
  );
  await browse.stop();
  log(`crash: avahi: ${ms.map((x) => (x === null ? `> ${capMs} ms` : `${Math.round(x)} ms`)).join(', ')}`);
  return row(ms, capMs);
}

async function zeroconfStrangers(
  lab: Lab,
  observerNode: number,
  subjects: number[],
  capMs: number,
): Promise<CrashRow> {
  const observer = new ZeroconfPeer(lab, observerNode, { browse: true, type: ZC_TYPE });
  await observer.waitFor((e) => e.ev === 'ready', { timeout: 30_000 });
  const names = subjects.map((_, k) => `Crash Zeroconf ${k + 1}`);
  const pubs = subjects.map(
    (i, k) => new ZeroconfPeer(lab, i, { name: names[k], type: ZC_TYPE, txt: ['v=1', 'st=Online'] }),
  );
  await Promise.all(pubs.map((p) => p.registered()));
  for (const n of names)
    await observer.waitFor((e) => e.ev === 'add' && e.name === n && e.resolved === true, { timeout: 60_000 });
  await sleep(8_000);
  log(`crash: zeroconf: ${subjects.length} publishers seen; kill -9`);
  const ms = await Promise.all(
    pubs.map(async (p, k) => {
      const t0 = performance.now();
      await p.kill();
      return capped(
        observer.waitFor((e) => e.ev === 'remove' && e.name === names[k], { since: t0, timeout: capMs }),
        t0,
      );
    }),
  );
  await observer.stop();
  log(`crash: zeroconf: ${ms.map((x) => (x === null ? `> ${capMs} ms` : `${Math.round(x)} ms`)).join(', ')}`);
  return row(ms, capMs);
}

// ---- a contact ----

function contactIdOf(data: Record<string, unknown>): string | undefined {
  const d = data as { peerId?: string; id?: string; contact?: { peerId?: string; id?: string } };
  return d.peerId ?? d.contact?.peerId ?? d.contact?.id ?? d.id;
}

async function contactCrash(
  lab: Lab,
  nodes: [number, number],
  samples: number,
  capMs: number,
): Promise<{ kill: CrashRow; link: CrashRow }> {
  const [a, b] = nodes;
  const alice = await lab.startHub(a, { nickname: 'Alice', logLevel: 'warn', readyTimeout: 120_000 });
  let bob = await lab.startHub(b, { nickname: 'Bob', logLevel: 'warn', readyTimeout: 120_000 });
  const [sa, sb] = await Promise.all([alice.status(), bob.status()]);
  await alice.waitPeer((p) => p.id === sb.id && p.wellFormed, { timeout: 60_000 });
  await bob.waitPeer((p) => p.id === sa.id && p.wellFormed, { timeout: 60_000 });
  for (const [h, ref] of [
    [alice, sb.id],
    [bob, sa.id],
  ] as const) {
    const r = await h.contactsCli(['add-nearby', ref, '--json']);
    if (r.code !== 0) throw new Error(`add-nearby on hub ${h.index}: ${r.stderr.trim()}`);
  }
  const feed = new HubFeed(alice.socket, 'crash-alice');
  await feed.connect();
  const offline = (since: number) =>
    feed.waitFor((r) => r.ev.type === 'contact:offline' && contactIdOf(r.ev.data) === sb.id, {
      since,
      timeout: capMs,
    });
  const kill: (number | null)[] = [];
  const link: (number | null)[] = [];
  for (let k = 0; k < samples; k++) {
    await alice.waitContact(sb.id, (c) => c.online, { timeout: 60_000 });
    const t0 = performance.now();
    await bob.kill();
    kill.push(await capped(offline(t0), t0));
    bob = await lab.startHub(b, { nickname: 'Bob', logLevel: 'warn', readyTimeout: 120_000 });
  }
  for (let k = 0; k < samples; k++) {
    await alice.waitContact(sb.id, (c) => c.online, { timeout: 60_000 });
    const t0 = performance.now();
    await lab.linkDown(b);
    try {
      link.push(await capped(offline(t0), t0));
    } finally {
      await lab.linkUp(b);
    }
  }
  feed.close();
  log(
    `crash: contact kill -9 → offline ${kill.map((x) => (x === null ? 'capped' : Math.round(x))).join(', ')} ms; cable pulled → offline ${link.map((x) => (x === null ? 'capped' : Math.round(x))).join(', ')} ms`,
  );
  return { kill: row(kill, capMs), link: row(link, capMs) };
}

// ---- the part ----

export async function runCrashBench(o: CrashOptions): Promise<number> {
  if (!(await labAvailable())) {
    console.error(`bench: ${LAB_SKIP}`);
    return 2;
  }
  if (!agentBuilt()) {
    console.error(`bench: agent not built (${agentCliPath()}): run npm run build`);
    return 2;
  }
  const S = o.samples;
  const capMs = o.capS * 1000;
  const started = new Date();
  const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, k) => from + k);
  // nodes: peerhub 0..S, avahi S+1..2S+1, zeroconf 2S+2..3S+2, contacts 3S+3, 3S+4
  try {
    return await withTeardown(async (t) => {
      const lab = await createLab(t, { hubs: 3 * S + 5 });
      log(`crash: lab ${lab.id}, ${S} samples per tool, cap ${o.capS} s`);
      const has = (x: string): boolean => o.tools.includes(x);
      const contact = has('contact')
        ? await contactCrash(lab, [3 * S + 3, 3 * S + 4], S, Math.min(capMs, 60_000))
        : undefined;
      const [peerhub, avahi, zeroconf] = await Promise.all([
        has('peerhub') ? peerhubStrangers(lab, 0, range(1, S), capMs) : undefined,
        has('avahi') ? avahiStrangers(lab, S + 1, range(S + 2, S), capMs) : undefined,
        has('zeroconf') ? zeroconfStrangers(lab, 2 * S + 2, range(2 * S + 3, S), capMs) : undefined,
      ]);
      console.log(
        [
          `${'crash → gone'.padEnd(36)}result`,
          `${'peerhub stranger (kill -9)'.padEnd(36)}${fmtRow(peerhub)}`,
          `${'avahi-daemon (kill -9)'.padEnd(36)}${fmtRow(avahi)}`,
          `${'python3-zeroconf (kill -9)'.padEnd(36)}${fmtRow(zeroconf)}`,
          `${'peerhub contact, kill -9'.padEnd(36)}${fmtRow(contact?.kill)}`,
          `${'peerhub contact, cable pulled'.padEnd(36)}${fmtRow(contact?.link)}`,
        ].join('\n'),
      );
      writeJson(o.out, {
        date: started.toISOString(),
        durationS: Math.round((Date.now() - started.getTime()) / 1000),
        machine: machine(),
        config: { samples: S, capS: o.capS, tools: o.tools },
        units: 'milliseconds; null = still listed when the cap passed',
        strangers: { peerhub, avahi, zeroconf },
        contact,
        notes: [
          'stranger: S subjects per tool announced on their own nodes (avahi and zeroconf each under a service type of their own, so no other tool’s browser queries their records), seen resolved by one observer per tool, left 8 s (past their announcements), then killed with SIGKILL together, each timed from its own kill until the observer reports it gone: peerhub = the observer hub’s event stream (GET /v1/events on its control socket) peer:lost; avahi = kill -9 of avahi-daemon (its avahi-publish client loses the daemon, nothing is sent), the observer’s avahi-browse -rp prints `-`; zeroconf = kill -9 of the python publisher, the observer’s ServiceBrowser prints remove.',
          'nothing is sent by a killed process: a stranger disappears only when its records expire in the observer’s cache (RFC 6762 §5.2 refresh queries unanswered, or the TTL runs out); a sample still listed at the cap is null and shown as "> cap".',
          'contact: two peerhub hubs that added each other (live subscription over the peer API); kill -9 of one (the kernel closes its sockets), then, with it restarted, its cable pulled (lab.linkDown: no FIN, only the peer API’s keep-alives tell) until the other hub emits contact:offline.',
        ],
      });
      return 0;
    });
  } catch (err) {
    console.error(err instanceof Error ? err.stack : err);
    return 1;
  }
}
