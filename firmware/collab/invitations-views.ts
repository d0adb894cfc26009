/** Pure reads over invitation records: filters, the per-session tally, what a record still owes. */
import { parsePeerId } from '../identity/index.js';
import type { Invitation, InvitationFilter, Tally } from './types.js';

export type Kind = 'invitation' | 'answer' | 'cancel';

/** A peer id in canonical form (left as it is when it does not parse). */
export function canonPeer(id: string): string {
  try {
    return parsePeerId(id);
  } catch {
    return id;
  }
}

export function filterInvitations(
  records: Iterable<Invitation>,
  filter: InvitationFilter = {},
): Invitation[] {
  const peer = filter.peer === undefined ? undefined : canonPeer(filter.peer);
  return [...records]
    .filter(
      (r) =>
        (filter.direction === undefined || r.direction === filter.direction) &&
        (filter.state === undefined || r.state === filter.state) &&
        (filter.sessionId === undefined || r.sessionId === filter.sessionId) &&
        (peer === undefined || r.peer === peer),
    )
    .sort((a, b) => a.createdAt - b.createdAt)
    .map((r) => structuredClone(r));
}

/** Per session, the latest invitation of each invited peer (a re-invitation replaces an older one). */
export function tallyOf(records: Iterable<Invitation>, sessionId: string): Tally {
  const latest = new Map<string, Invitation>();
  for (const r of filterInvitations(records, { direction: 'out', sessionId })) latest.set(r.peer, r);
  const t: Tally = { accepted: [], declined: [], noResponse: [], failed: [] };
  for (const r of latest.values()) {
    if (r.state === 'accepted') t.accepted.push(r.peer);
    else if (r.state === 'declined') t.declined.push(r.peer);
    else if (r.state === 'failed') t.failed.push(r.peer);
    else t.noResponse.push(r.peer);
  }
  return t;
}

/** What a record still owes its peer, e.g. after a restart (null: nothing). */
export function owed(r: Invitation): Kind | null {
  if (r.delivery !== 'sending') return null;
  if (r.direction === 'in') return r.state === 'accepted' || r.state === 'declined' ? 'answer' : null;
  return r.state === 'pending' ? 'invitation' : r.state === 'cancelled' ? 'cancel' : null;
}
