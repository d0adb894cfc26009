import type { BusEvent } from '../core/bus.js';
import type { PeerRow, StatusView } from '../control/types.js';
import type { NearbyPeer } from '../presence/types.js';

/** A plain left-aligned table (no colours: the output goes to SSH sessions and logs). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

export function formatStatus(s: StatusView): string {
  const rows: Array<[string, string]> = [
    ['Peer id', s.id],
    ['Peer name', s.peerName],
    ['Nickname', s.nickname],
    ['Scope', s.scope === 'None' ? 'None (signed out)' : s.scope],
    ['Presence', s.presence.text ? `${s.presence.status} — ${s.presence.text}` : s.presence.status],
    [
      'mDNS',
      `${s.mdns.backend}, instance ${s.mdns.instance ?? '(not published)'}, host ${s.mdns.host}.local`,
    ],
    ['Peer API port', String(s.port)],
    ['Agent', `v${s.version}, pid ${s.pid}, up ${duration(s.uptimeMs)}`],
  ];
  if (s.startup) {
    const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    rows.push(['Started', `ready after ${secs(s.startup.readyMs)} (CPU ${secs(s.startup.cpuMs)})`]);
  }
  if (s.memory) {
    rows.push(['Memory', `${s.memory.rss} MB resident, heap ${s.memory.heapUsed}/${s.memory.heapTotal} MB`]);
  }
  for (const [i, n] of (s.interfaces ?? []).entries()) {
    rows.push([i === 0 ? 'Interfaces' : '', `${n.name} ${n.addresses.join(' ')}`]);
  }
  if (s.counts) {
    const c = s.counts;
    rows.push(
      ['Peers near me', `${c.peers} (${c.verifiedPeers} verified)`],
      ['Contacts', String(c.contacts)],
      ['Invitations', `${c.invitations} (${c.pendingInvitations} pending)`],
      ['Sessions', `${c.sessions} (${c.openSessions} open)`],
    );
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${(k ? k + ':' : '').padEnd(w + 1)} ${v}`).join('\n');
}

/** 42s, 5m 3s, 2h 5m, 3d 4h. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** What People Near Me can tell about a row: SPOOF first, it must never pass for that person. */
function trust(p: PeerRow): string {
  if (p.spoof) return 'SPOOF';
  if (!p.wellFormed) return 'not peerhub';
  return [p.verified ? 'verified' : 'unverified', ...(p.contact ? ['contact'] : [])].join(',');
}

export function formatPeers(peers: PeerRow[], now = Date.now()): string {
  if (peers.length === 0) return 'No peers near me.';
  return table(
    ['NICKNAME', 'STATUS', 'ID', 'TRUST', 'ENDPOINTS', 'SEEN'],
    peers.map((p) => [
      p.nickname,
      p.status,
      p.id ? p.id.split('-')[0]! : '-',
      trust(p),
      p.endpoints.join(',') || '-',
      ago(p.lastSeen, now),
    ]),
  );
}

export function formatEvent(ev: BusEvent): string {
  const d = ev.data as Record<string, unknown> & { peer?: NearbyPeer };
  const who = (p?: Partial<NearbyPeer>): string => (p ? `${p.nickname ?? p.instance ?? '?'}` : '');
  let summary: string;
  switch (ev.type) {
    case 'peer:found':
    case 'peer:changed':
      summary = `${who(d as Partial<NearbyPeer>)} ${String(d.status)}`;
      break;
    case 'peer:lost':
      summary = `${who(d.peer)} (${String(d.reason)})`;
      break;
    default:
      summary = JSON.stringify(ev.data);
  }
  return `${ev.time}  ${ev.type.padEnd(20)} ${summary}`;
}
