/**
 * People Near Me rows from Avahi's browse and resolve results (pure). A row has the shape and the TXT
 * validation of the multicast-dns backend's (peers.ts); found/changed/lost come from peers.ts's diff.
 */
import { nicknameOf, parseTxt } from '../names.js';
import type { NearbyPeer } from '../types.js';
import { PROTO_INET6 } from './constants.js';

/** One ServiceResolver `Found`. */
export interface Resolved {
  host: string; // SRV target, e.g. `peerhub-abc.local`
  address: string;
  aprotocol: number;
  port: number;
  txt: Buffer[];
  at: number; // when it was received
}

/** One browsed instance: where Avahi sees it (interface/protocol pairs) and what it resolved to. */
export interface BrowseEntry {
  name: string; // instance label as Avahi reports it (unescaped)
  where: Set<string>; // `${interface}/${protocol}`
  ours: boolean; // Avahi flagged it as our own (RESULT_OUR_OWN)
  resolved: Resolved | null;
  firstSeen: number;
}

export interface Self {
  instance: string | null; // our instance label
  peerId: string | null;
}

/** Instance names compare case-insensitively (DNS). */
export const entryKey = (name: string): string => name.toLowerCase();

export function endpointOf(address: string, port: number, aprotocol: number): string {
  return aprotocol === PROTO_INET6 || address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function buildRow(name: string, r: Resolved, firstSeen: number): NearbyPeer {
  const parsed = parseTxt(r.txt);
  return {
    instance: name,
    id: parsed.id,
    nickname: nicknameOf(name),
    status: parsed.status,
    seq: parsed.seq,
    host: r.host || null,
    port: r.port,
    endpoints: r.address ? [endpointOf(r.address, r.port, r.aprotocol)] : [],
    wellFormed: parsed.wellFormed,
    txt: parsed.txt,
    firstSeen,
    lastSeen: r.at,
  };
}

/** The table: resolved instances that are not ours (by Avahi's flag, our instance name or our peer id). */
export function buildTable(entries: ReadonlyMap<string, BrowseEntry>, self: Self): Map<string, NearbyPeer> {
  const out = new Map<string, NearbyPeer>();
  const own = self.instance === null ? null : entryKey(self.instance);
  for (const [key, e] of entries) {
    if (e.ours || key === own || !e.resolved || e.where.size === 0) continue;
    const row = buildRow(e.name, e.resolved, e.firstSeen);
    if (row.id !== null && row.id === self.peerId) continue;
    out.set(key, row);
  }
  return out;
}
