/**
 * docs/PERFORMANCE.md and docs/bench/performance.svg from the benchmark results in docs/bench/*.json
 * (latest, zeroconf, crash, fleet, trust, collab): one table per area with peerhub / avahi / zeroconf /
 * ratio / goal / met, the date and machine of each file's run, and a hand-written SVG bar chart (no
 * dependency) of the latency rows (log scale) and the steady-state packets per minute.
 *
 *   node dist/test/bench/report.js [--root DIR]     (npm run bench runs it at the end of every run)
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CpuUsed } from './cpu-trace.js';

type Json = Record<string, unknown>;
interface Sum {
  n: number;
  p50: number;
  p99: number;
  max: number;
}
interface Machine {
  loadavg?: number[];
  cpus?: number;
  cpu?: string;
  kernel?: string;
  node?: string;
}
interface CrashRow {
  ms: (number | null)[];
  capMs: number;
  gone: number;
  capped: number;
  summary?: Sum;
}
interface FleetRunJ {
  tool: string;
  n: number;
  date?: string;
  together: {
    complete: boolean;
    allMs: number | null;
    wholeMs?: number | null;
    lostBeforeWhole?: number;
    lostReasons?: Record<string, number>;
    hubsComplete: number;
    minSeen: number;
    deadlineS: number;
    boot?: 'first' | 'later';
    cpu?: CpuUsed;
  };
  packets?: {
    meanPerHubPerMin: number;
    perHubPerMin: Sum;
    cpuPercentPerHub: number;
    rssMBPerHub: number;
    windowS: number;
    stillSeenAll?: number;
    lostAfterWhole?: number;
  };
  join?: { fromStart?: Sum; fromReady?: Sum; failures: number; samples: number };
  error?: string;
}

const TOOLS = ['peerhub', 'avahi', 'zeroconf'] as const;
type Tool = (typeof TOOLS)[number];
const COLORS: Record<Tool, string> = { peerhub: '#1f6fb4', avahi: '#e07b10', zeroconf: '#2f9e44' };

/** "N peers lost" with peerhub's reasons. */
function lostText(t: FleetRunJ['together']): string {
  const reasons = Object.entries(t.lostReasons ?? {})
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
  return `${t.lostBeforeWhole ?? 0} peers lost${reasons ? ` (${reasons})` : ''}`;
}

/** How much CPU the start took: the hubs' processes and the machine, against what the cores could give. */
function cpuText(t: FleetRunJ['together']): string {
  const c = t.cpu;
  if (!c) return '';
  const avail = (c.cores * c.untilMs) / 1000;
  return `; CPU until then: hubs ${c.hubsCoreS} core-s, machine ${c.machineCoreS} of ${Math.round(avail)} (${c.cores} cores)`;
}

/** peerhub fleets: whether the hubs made their keys while starting (first boot) or had them (provisioned). */
function bootText(t: FleetRunJ['together']): string {
  if (t.boot === 'first') return '; first boot: keys made while starting';
  if (t.boot === 'later') return '; provisioned hubs: keys made before';
  return '';
}

function load(dir: string, name: string): Json | null {
  const p = join(dir, `${name}.json`);
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as Json;
  } catch {
    return null;
  }
}

function get(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Json)[k];
  }
  return cur;
}

const sum = (o: unknown, path: string): Sum | undefined => {
  const s = get(o, path) as Sum | undefined;
  return s && typeof s.p50 === 'number' ? s : undefined;
};

/** A value with how to show it and how to compare it (lower is better). */
interface Cell {
  v: number; // for comparisons (a capped wait counts as its cap + 1)
  text: string;
  lower?: boolean; // "> cap": the true value is higher than v
  na?: string; // measured, but not what the goal means (why)
}

function ms(v: number): string {
  const a = Math.abs(v);
  if (a >= 10_000) return `${(v / 1000).toFixed(0)} s`;
  if (a >= 1000) return `${(v / 1000).toFixed(2)} s`;
  if (a >= 100) return `${v.toFixed(0)} ms`;
  if (a >= 10) return `${v.toFixed(1)} ms`;
  return `${v.toFixed(2)} ms`;
}

/** A figure from another run than the file's (`measuredOn` set in the JSON): says which. */
const carried = (doc: unknown, path: string): string => {
  const on = get(doc, `${path}.measuredOn`);
  return typeof on === 'string'
    ? ` <small>(another run: ${on.slice(0, 16).replace('T', ' ')} UTC, see notes)</small>`
    : '';
};

const cellP = (s: Sum | undefined): Cell | undefined =>
  s ? { v: s.p50, text: `${ms(s.p50)} <small>(p99 ${ms(s.p99)}, n=${s.n})</small>` } : undefined;

function cellCrash(r: CrashRow | undefined): Cell | undefined {
  if (!r || !Array.isArray(r.ms) || r.ms.length === 0) return undefined;
  if (r.capped > 0)
    return {
      v: r.capMs + 1,
      lower: true,
      text: `> ${ms(r.capMs)} <small>(${r.capped} of ${r.ms.length} still listed at the cap${r.summary ? `; the others ${ms(r.summary.p50)}` : ''})</small>`,
    };
  return r.summary
    ? {
        v: r.summary.p50,
        text: `${ms(r.summary.p50)} <small>(max ${ms(r.summary.max)}, n=${r.summary.n})</small>`,
      }
    : undefined;
}

interface Row {
  what: string;
  cells: Partial<Record<Tool, Cell>>;
  goal?: { max: number; text: string };
  chart?: boolean; // a latency row for the SVG
  anchors?: Tool[]; // the anchors the ratio and verdict compare with (default avahi and zeroconf)
}

function ratioText(r: Row): string {
  const p = r.cells.peerhub;
  const anchors = (r.anchors ?? ['avahi', 'zeroconf']).map((t) => r.cells[t]).filter((c): c is Cell => !!c);
  if (!p || anchors.length === 0) return '—';
  const best = Math.min(...anchors.map((c) => c.v));
  if (best <= 0 || p.v <= 0) return '—';
  const x = p.v / best;
  const bestLower = anchors.some((c) => c.v === best && c.lower);
  return `${bestLower || p.lower ? '≈ ' : ''}${x < 1 ? x.toPrecision(2) : x.toFixed(2)}×`;
}

function metText(r: Row): string {
  const p = r.cells.peerhub;
  if (!p || !r.goal) return '—';
  if (p.na) return `n/a: ${p.na}`;
  const parts: string[] = [];
  if (r.goal) parts.push(p.v <= r.goal.max && !p.lower ? 'yes' : '**no**');
  const anchors = (r.anchors ?? ['avahi', 'zeroconf']).map((t) => r.cells[t]).filter((c): c is Cell => !!c);
  if (anchors.length > 0) {
    const best = Math.min(...anchors.map((c) => c.v));
    const bestCapped = anchors.some((c) => c.v === best && c.lower);
    const better = bestCapped ? !p.lower : p.v <= best;
    parts.push(better ? 'best anchor: yes' : '**best anchor: no**');
  }
  return parts.join('; ') || '—';
}

function table(rows: readonly Row[], cols: readonly Tool[] = TOOLS): string {
  const head = `| measure | ${cols.join(' | ')} | peerhub / best anchor | goal | met? |`;
  const sep = `| --- | ${cols.map(() => '---').join(' | ')} | --- | --- | --- |`;
  return [
    head,
    sep,
    ...rows.map(
      (r) =>
        `| ${r.what} | ${cols.map((t) => r.cells[t]?.text ?? '—').join(' | ')} | ${ratioText(r)} | ${r.goal?.text ?? '—'} | ${metText(r)} |`,
    ),
  ].join('\n');
}

function source(name: string, j: Json | null): string {
  if (!j) return `| ${name}.json | not run yet | | |`;
  const m = (j.machine ?? {}) as Machine;
  const cfg = JSON.stringify(j.config ?? {}).replace(/\|/g, '\\|');
  return `| ${name}.json | ${String(j.date ?? '?')
    .replace('T', ' ')
    .slice(
      0,
      16,
    )} UTC, ${j.durationS ?? '?'} s | ${m.cpus ?? '?'} × ${m.cpu ?? '?'}, Linux ${m.kernel ?? '?'}, Node ${m.node ?? '?'}${m.loadavg ? `; load average at the end ${m.loadavg.join(' / ')}` : ''} | <small>${cfg}</small> |`;
}

export interface Report {
  markdown: string;
  svg: string;
}

export function buildReport(benchDir: string): Report {
  const latest = load(benchDir, 'latest');
  const zc = load(benchDir, 'zeroconf');
  const crash = load(benchDir, 'crash');
  const fleet = load(benchDir, 'fleet');
  const trust = load(benchDir, 'trust');
  const collab = load(benchDir, 'collab');

  // ---- presence latency (latest.json + zeroconf.json) ----
  const lat = (path: string): Partial<Record<Tool, Cell>> => ({
    peerhub: cellP(sum(latest, `peerhub.${path}`)),
    avahi: cellP(sum(latest, `avahi.${path}`)),
    zeroconf: cellP(sum(zc, `zeroconf.${path}`)),
  });
  const latency: Row[] = [
    {
      what: 'hub start → seen by a peer (p50)',
      cells: lat('startSeen'),
      goal: { max: 1200, text: '≤ 1.2 s (issue 2; RFC 6762 probing kept, so compared with avahi only)' },
      anchors: ['avahi'],
      chart: true,
    },
    {
      what: 'status change → seen, from the request (p50)',
      cells: lat('changeFromRequest'),
      goal: { max: 2.5, text: 'p50 ≤ 2.5 ms' },
      chart: true,
    },
    { what: 'status change → seen, from the ack (p50)', cells: lat('changeFromAck') },
    {
      what: 'graceful stop → gone (p50)',
      cells: lat('stopGone'),
      goal: { max: 2.5, text: '≤ 2.5 ms' },
      chart: true,
    },
    { what: 'SIGTERM → process exit (p50)', cells: lat('stopExit') },
  ];

  // ---- crash (crash.json) ----
  const cr = (path: string): CrashRow | undefined => get(crash, path) as CrashRow | undefined;
  const crashRows: Row[] = [
    {
      what: 'crashed stranger (kill -9) → gone from a peer’s list',
      cells: {
        peerhub: cellCrash(cr('strangers.peerhub')),
        avahi: cellCrash(cr('strangers.avahi')),
        zeroconf: cellCrash(cr('strangers.zeroconf')),
      },
      goal: { max: 60_000, text: '≤ 60 s' },
      chart: true,
    },
    {
      what: 'crashed contact (kill -9) → offline at its subscriber',
      cells: { peerhub: cellCrash(cr('contact.kill')) },
      goal: { max: 5000, text: '≤ 5 s' },
      chart: true,
    },
    {
      what: 'contact’s cable pulled → offline at its subscriber',
      cells: { peerhub: cellCrash(cr('contact.link')) },
      goal: { max: 5000, text: '≤ 5 s' },
    },
  ];

  // ---- fleets (fleet.json) ----
  const runs = ((get(fleet, 'runs') as FleetRunJ[] | undefined) ?? []).filter(
    (r) => r && typeof r.n === 'number',
  );
  const sizes = [...new Set(runs.map((r) => r.n))].sort((a, b) => a - b);
  const runOf = (t: Tool, n: number): FleetRunJ | undefined => runs.find((r) => r.tool === t && r.n === n);
  const perTool = (n: number, f: (r: FleetRunJ) => Cell | undefined): Partial<Record<Tool, Cell>> => {
    const out: Partial<Record<Tool, Cell>> = {};
    for (const t of TOOLS) {
      const r = runOf(t, n);
      const c = r ? f(r) : undefined;
      if (c) out[t] = c;
    }
    return out;
  };
  const fleetRows: Row[] = [];
  const packetRows: Row[] = [];
  for (const n of sizes) {
    fleetRows.push({
      what: `a hub joining ${n} running hubs sees all, after its ready (p50)`,
      cells: perTool(n, (r) =>
        r.join?.fromReady
          ? {
              v: r.join.fromReady.p50,
              text: `${ms(r.join.fromReady.p50)} <small>(max ${ms(r.join.fromReady.max)}, n=${r.join.fromReady.n}${r.join.failures ? `, ${r.join.failures} failed` : ''})</small>`,
            }
          : r.join
            ? { v: Infinity, text: `none of ${r.join.samples} in 60 s` }
            : undefined,
      ),
      ...(n >= 50 ? { goal: { max: 300, text: '≤ 300 ms' } } : {}),
    });
    fleetRows.push({
      what: `… after its process start (p50)`,
      cells: perTool(n, (r) =>
        r.join?.fromStart
          ? {
              v: r.join.fromStart.p50,
              text: `${ms(r.join.fromStart.p50)} <small>(max ${ms(r.join.fromStart.max)})</small>`,
            }
          : r.join
            ? { v: Infinity, text: `none of ${r.join.samples} saw all in 60 s` }
            : undefined,
      ),
      chart: n === sizes[sizes.length - 1],
    });
    fleetRows.push({
      what: `${n} hubs started together: all see each other at once`,
      cells: perTool(n, (r) =>
        r.error && !r.together.complete
          ? { v: Infinity, text: `failed: ${r.error.split('\n')[0]?.slice(0, 80)}` }
          : r.together.wholeMs != null
            ? {
                v: r.together.wholeMs,
                text: `${ms(r.together.wholeMs)} <small>(last hub done ${ms(r.together.allMs ?? r.together.wholeMs)}; ${lostText(r.together)} on the way${bootText(r.together)}${cpuText(r.together)})</small>`,
              }
            : r.together.wholeMs === null
              ? {
                  v: r.together.deadlineS * 1000 + 1,
                  lower: true,
                  text: `> ${r.together.deadlineS} s <small>(never all at once; ${lostText(r.together)}; each hub done by ${r.together.allMs === null ? '—' : ms(r.together.allMs)}${bootText(r.together)}${cpuText(r.together)})</small>`,
                }
              : r.together.complete && r.together.allMs !== null
                ? {
                    v: r.together.allMs,
                    text: `${ms(r.together.allMs)} <small>(each hub at its own moment; older run)</small>`,
                  }
                : {
                    v: r.together.deadlineS * 1000 + 1,
                    lower: true,
                    text: `> ${r.together.deadlineS} s <small>(${r.together.hubsComplete}/${n} hubs saw all; fewest ${r.together.minSeen}/${n - 1})</small>`,
                  },
      ),
      ...(n === 100 ? { goal: { max: 15_000, text: '≤ 15 s' } } : {}),
      chart: n === sizes[sizes.length - 1],
    });
    packetRows.push({
      what: `${n} hubs: steady mDNS packets per minute per hub`,
      cells: perTool(n, (r) =>
        r.packets
          ? {
              v: r.packets.meanPerHubPerMin,
              text: `${r.packets.meanPerHubPerMin} <small>(max ${r.packets.perHubPerMin.max}; ${r.packets.windowS} s${r.together.complete ? '' : '; the fleet had not converged'}${r.packets.lostAfterWhole !== undefined ? `; ${r.packets.lostAfterWhole} lost since whole, ${r.packets.stillSeenAll}/${n} whole at the end` : ''})</small>`,
              ...(r.together.complete ? {} : { na: 'the fleet had not converged' }),
            }
          : undefined,
      ),
      goal: { max: 2, text: '≤ 2' },
    });
    packetRows.push({
      what: `${n} hubs: CPU per hub over the window`,
      cells: perTool(n, (r) =>
        r.packets
          ? {
              v: r.packets.cpuPercentPerHub,
              text: `${r.packets.cpuPercentPerHub} % <small>(RSS ${r.packets.rssMBPerHub} MB)</small>`,
            }
          : undefined,
      ),
    });
  }

  // ---- the rest (peerhub only: latest idle, collab, trust) ----
  const idleAgent = get(latest, 'idle.peerhub agent') as
    { rssMB: number; cpuPercent: number; hwmMB: number } | undefined;
  const firstBoot = get(latest, 'peerhub.firstBootReady') as { ms: number; cpuMs: number } | undefined;
  const idleAvahi = get(latest, 'idle.avahi-daemon') as { rssMB: number; cpuPercent: number } | undefined;
  const other: Row[] = [
    {
      what: 'invite → notified → decline → host informed, warm (p50)',
      cells: { peerhub: cellP(sum(collab, 'invite.warmDecline.roundTrip')) },
      goal: { max: 10, text: 'p50 ≤ 10 ms' },
    },
    {
      what: '… the same with accept (membership issued)',
      cells: { peerhub: cellP(sum(collab, 'invite.warmAccept.roundTrip')) },
    },
    {
      what: '… cold (new mutual-TLS connection)',
      cells: { peerhub: cellP(sum(collab, 'invite.coldDecline.roundTrip')) },
    },
    {
      what: 'session message fan-out to 20 members, per member',
      cells: { peerhub: cellP(sum(collab, 'fanout.20.perMember')) },
    },
    {
      what: `session message fan-out to 50 members, per member${carried(collab, 'fanout.50')}`,
      cells: { peerhub: cellP(sum(collab, 'fanout.50.perMember')) },
    },
    {
      what: `contacts: add one (durable), up to ${String(get(trust, 'contacts.count') ?? 1000)}`,
      cells: { peerhub: cellP(sum(trust, 'contacts.add')) },
    },
    { what: 'contacts: lookup by id', cells: { peerhub: cellP(sum(trust, 'contacts.lookupId')) } },
    { what: 'contacts: lookup by short id', cells: { peerhub: cellP(sum(trust, 'contacts.lookupShortId')) } },
    { what: 'contacts: export one as XML', cells: { peerhub: cellP(sum(trust, 'contacts.export')) } },
    { what: 'mutual TLS handshake to a peer API', cells: { peerhub: cellP(sum(trust, 'tls.handshake')) } },
    {
      what: 'agent start → ready, later boots (p50; includes RFC 6762 probing)',
      cells: { peerhub: cellP(sum(latest, 'peerhub.startReady')) },
    },
    {
      what: '… CPU the agent used until ready (p50)',
      cells: { peerhub: cellP(sum(latest, 'peerhub.startReadyCpu')) },
    },
    {
      what: 'agent first boot → ready (keys made)',
      cells: {
        peerhub: firstBoot
          ? { v: firstBoot.ms, text: `${ms(firstBoot.ms)} <small>(CPU ${ms(firstBoot.cpuMs)}, n=1)</small>` }
          : undefined,
      },
    },
    {
      what: 'idle RSS of the agent',
      cells: {
        peerhub: idleAgent
          ? { v: idleAgent.rssMB, text: `${idleAgent.rssMB} MB <small>(peak ${idleAgent.hwmMB})</small>` }
          : undefined,
        avahi: idleAvahi
          ? { v: idleAvahi.rssMB, text: `${idleAvahi.rssMB} MB <small>(daemon only)</small>` }
          : undefined,
      },
      goal: { max: 70, text: '≤ 70 MB' },
    },
    {
      what: 'idle CPU of the agent',
      cells: {
        peerhub: idleAgent ? { v: idleAgent.cpuPercent, text: `${idleAgent.cpuPercent} %` } : undefined,
        avahi: idleAvahi ? { v: idleAvahi.cpuPercent, text: `${idleAvahi.cpuPercent} %` } : undefined,
      },
      goal: { max: 0.5, text: '≤ 0.5 %' },
    },
  ];
  // idle: the avahi figure is there for context (a C daemon); no "best anchor" verdict on memory/CPU rows
  for (const r of other.slice(-2)) r.cells = { peerhub: r.cells.peerhub, avahi: r.cells.avahi };

  const notes = (j: Json | null, name: string): string[] =>
    ((get(j, 'notes') as string[] | undefined) ?? []).map((n) => `- (${name}) ${n}`);

  const md = [
    '# Performance',
    '',
    '<!-- Generated by test/bench/report.ts from docs/bench/*.json: do not edit; run `npm run bench` (root, LAN lab) or `node dist/test/bench/report.js`. -->',
    '',
    'Measured by `npm run bench` in the LAN lab (network namespaces on one bridge, real processes), peerhub next to',
    'avahi-daemon 0.8 and python3-zeroconf 0.47 in the same run and lab where a figure has an anchor. Lower is',
    'better everywhere. "peerhub / best anchor" divides peerhub’s figure by the best anchor’s; "met?" checks the',
    'goal of issue 7 and whether peerhub is at least as good as the best anchor. Every latency comes from an event',
    'stream stamped on arrival, never from polling.',
    '',
    '![peerhub, avahi and python3-zeroconf: latencies (log scale) and steady mDNS packets per minute per hub](bench/performance.svg)',
    '',
    '## Runs',
    '',
    '| file | date, duration | machine | configuration |',
    '| --- | --- | --- | --- |',
    source('latest', latest),
    source('zeroconf', zc),
    source('crash', crash),
    source('fleet', fleet),
    ...fleetDates(fleet),
    source('trust', trust),
    source('collab', collab),
    '',
    '## Presence: start, status change, leave',
    '',
    table(latency),
    '',
    'python-zeroconf probes at 175 ms intervals and announces 225 ms apart; RFC 6762 (and peerhub, avahi) use',
    '250 ms probes and 1 s, 2 s between announcements, so its start → seen is shorter by design, not a target.',
    '',
    '## Crash → gone',
    '',
    table(crashRows),
    '',
    'A killed process sends nothing: a peer can only forget a stranger when its records expire (RFC 6762 §5.2',
    'cache-refresh queries unanswered, or the TTL runs out). A contact has a live peer-API connection, so its',
    'subscriber learns it at once from the kernel (kill -9) or from missed keep-alives (cable).',
    '',
    '## Fleets: joining, starting together, steady traffic',
    '',
    fleetRows.length ? table(fleetRows) : '_fleet.json not there yet: `npm run bench -- --only fleet`._',
    '',
    packetRows.length ? table(packetRows) : '',
    '',
    '## Collaboration, contacts, idle (peerhub)',
    '',
    table(other),
    '',
    '## Notes',
    '',
    ...notes(latest, 'latest'),
    ...notes(zc, 'zeroconf'),
    ...notes(crash, 'crash'),
    ...notes(fleet, 'fleet'),
    ...notes(trust, 'trust'),
    ...notes(collab, 'collab'),
    '',
  ].join('\n');

  const chartRows: { label: string; cells: Partial<Record<Tool, Cell>> }[] = [
    ...latency
      .filter((r) => r.chart)
      .map((r) => ({ label: r.what.replace(/ \(p50\)$/, ''), cells: r.cells })),
    ...crashRows.filter((r) => r.chart).map((r) => ({ label: r.what, cells: r.cells })),
    ...fleetRows
      .filter((r) => r.chart)
      .map((r) => ({
        label: r.what.startsWith('…')
          ? `a hub joining ${sizes[sizes.length - 1]} running hubs sees all (from start)`
          : r.what,
        cells: r.cells,
      })),
  ];
  const pkts = sizes.map((n) => ({
    n,
    cells: perTool(n, (r) =>
      r.packets ? { v: r.packets.meanPerHubPerMin, text: String(r.packets.meanPerHubPerMin) } : undefined,
    ),
  }));
  return { markdown: md, svg: chart(chartRows, pkts) };
}

/** Fleet runs kept from earlier invocations carry their own date: list them under the file's row. */
function fleetDates(fleet: Json | null): string[] {
  const runs = (get(fleet, 'runs') as FleetRunJ[] | undefined) ?? [];
  const byDate = new Map<string, string[]>();
  for (const r of runs) {
    const d = (r.date ?? String(fleet?.date ?? '?')).replace('T', ' ').slice(0, 16);
    byDate.set(d, [...(byDate.get(d) ?? []), `${r.tool} ×${r.n}`]);
  }
  if (byDate.size < 2) return [];
  return [...byDate].map(([d, what]) => `| ↳ fleet runs | ${d} UTC | | ${what.join(', ')} |`);
}

// ---- SVG ----

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const plain = (s: string): string => s.replace(/<small>.*?<\/small>/g, '').trim();

function chart(
  rows: readonly { label: string; cells: Partial<Record<Tool, Cell>> }[],
  pkts: readonly { n: number; cells: Partial<Record<Tool, Cell>> }[],
): string {
  const W = 980;
  const L = 330; // label column
  const R = W - 40; // plot right edge
  const barH = 13;
  const gap = 2;
  const groupGap = 14;
  const lo = -1; // 0.1 ms
  const hi = 6; // 1000 s
  const x = (v: number): number => L + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (R - L);
  const out: string[] = [];
  let y = 70;
  out.push(
    `<text x="20" y="30" font-size="18" font-weight="bold">peerhub next to avahi and python3-zeroconf (lower is better)</text>`,
    `<text x="20" y="50" font-size="12" fill="#555">latency, log scale; hatched = still there when the wait was capped; from docs/bench/*.json</text>`,
  );
  // legend
  TOOLS.forEach((t, k) => {
    out.push(
      `<rect x="${W - 330 + k * 105}" y="40" width="12" height="12" fill="${COLORS[t]}"/><text x="${W - 314 + k * 105}" y="51" font-size="12">${t}</text>`,
    );
  });
  const top = y;
  const groupH = TOOLS.length * (barH + gap) + groupGap;
  const plotH = rows.length * groupH;
  // grid
  for (let e = lo; e <= hi; e++) {
    const gx = x(10 ** e);
    const label = e < 0 ? '0.1 ms' : e < 3 ? `${10 ** e} ms` : `${10 ** (e - 3)} s`;
    out.push(
      `<line x1="${gx.toFixed(1)}" y1="${top - 8}" x2="${gx.toFixed(1)}" y2="${top + plotH - groupGap + 4}" stroke="#ddd"/>`,
      `<text x="${gx.toFixed(1)}" y="${top + plotH - groupGap + 18}" font-size="11" text-anchor="middle" fill="#555">${label}</text>`,
    );
  }
  for (const r of rows) {
    const words = r.label.split(' ');
    const lines: string[] = [''];
    for (const w of words) {
      if (((lines[lines.length - 1] as string) + ' ' + w).length > 46) lines.push(w);
      else lines[lines.length - 1] = `${lines[lines.length - 1]} ${w}`.trim();
    }
    lines.forEach((l, k) => out.push(`<text x="20" y="${y + 11 + k * 14}" font-size="12">${esc(l)}</text>`));
    TOOLS.forEach((t, k) => {
      const by = y + k * (barH + gap);
      const c = r.cells[t];
      if (!c || !Number.isFinite(c.v)) {
        out.push(
          `<text x="${L + 4}" y="${by + 10}" font-size="10" fill="#999">${c ? esc(plain(c.text)) : '—'}</text>`,
        );
        return;
      }
      const w = Math.max(1, x(c.v) - L);
      out.push(
        `<rect x="${L}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[t]}"${c.lower ? ' fill-opacity="0.55"' : ''}/>`,
      );
      if (c.lower)
        out.push(`<rect x="${L}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="url(#hatch)"/>`);
      const txt = esc(plain(c.text));
      const inside = w > R - L - 90;
      if (inside) {
        const tw = txt.length * 6 + 6;
        out.push(
          `<rect x="${(L + w - tw - 2).toFixed(1)}" y="${by + 1}" width="${tw}" height="${barH - 2}" fill="#fff" fill-opacity="0.9"/>`,
        );
      }
      out.push(
        `<text x="${(inside ? L + w - 4 : L + w + 4).toFixed(1)}" y="${by + 10}" font-size="10"${inside ? ' text-anchor="end"' : ''}>${txt}</text>`,
      );
    });
    y += groupH;
  }
  y += 30;
  // packets per minute per hub
  out.push(
    `<text x="20" y="${y}" font-size="15" font-weight="bold">steady mDNS packets per minute per hub (goal ≤ 2), counted on the bridge</text>`,
  );
  y += 16;
  const maxP = Math.max(2.5, ...pkts.flatMap((p) => TOOLS.map((t) => p.cells[t]?.v ?? 0)));
  const px = (v: number): number => L + (v / maxP) * (R - L - 60);
  const ptop = y;
  const pH = Math.max(1, pkts.length) * groupH;
  out.push(
    `<line x1="${px(2).toFixed(1)}" y1="${ptop - 4}" x2="${px(2).toFixed(1)}" y2="${ptop + pH - groupGap + 4}" stroke="#c00" stroke-dasharray="4 3"/>`,
    `<text x="${px(2).toFixed(1)}" y="${ptop + pH - groupGap + 18}" font-size="11" text-anchor="middle" fill="#c00">goal 2</text>`,
  );
  if (pkts.length === 0)
    out.push(`<text x="20" y="${y + 12}" font-size="12" fill="#999">no fleet run yet</text>`);
  for (const p of pkts) {
    out.push(`<text x="20" y="${y + 11}" font-size="12">${p.n} hubs</text>`);
    TOOLS.forEach((t, k) => {
      const by = y + k * (barH + gap);
      const c = p.cells[t];
      if (!c) {
        out.push(`<text x="${L + 4}" y="${by + 10}" font-size="10" fill="#999">—</text>`);
        return;
      }
      const w = Math.max(1, px(c.v) - L);
      out.push(
        `<rect x="${L}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[t]}"/>`,
        `<text x="${(L + w + 4).toFixed(1)}" y="${by + 10}" font-size="10">${c.v}</text>`,
      );
    });
    y += groupH;
  }
  const H = y + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Verdana, sans-serif">`,
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/></pattern></defs>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

/** Write docs/PERFORMANCE.md and docs/bench/performance.svg under `root`. */
export function writePerformanceReport(root: string): void {
  const benchDir = join(root, 'docs/bench');
  mkdirSync(benchDir, { recursive: true });
  const r = buildReport(benchDir);
  writeFileSync(join(root, 'docs/PERFORMANCE.md'), r.markdown);
  writeFileSync(join(benchDir, 'performance.svg'), r.svg);
  console.error(`# wrote ${join(root, 'docs/PERFORMANCE.md')} and ${join(benchDir, 'performance.svg')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--root');
  const { repoRoot } = await import('../lab/paths.js');
  writePerformanceReport(i > 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : repoRoot());
}
