/**
 * `<dataDir>/invitations.json` through the durable store: `{ version: 1, invitations: Invitation[] }`,
 * every record validated on load and before each write; closed records are bounded (oldest pruned).
 */
import { openStore, type Store, type StoreDeps } from '../store/index.js';
import { checkAnswer, checkData, checkId, checkMessage, checkToken } from './invitations-wire.js';
import type { Invitation, InvitationState } from './types.js';

export const INVITATIONS_VERSION = 1;

export interface InvitationsRecord {
  version: number;
  invitations: Invitation[];
}

const STATES: readonly InvitationState[] = [
  'pending',
  'accepted',
  'declined',
  'expired',
  'cancelled',
  'failed',
];
const DELIVERY = ['sending', 'delivered', 'undeliverable'] as const;
const KEYS = new Set([
  'id',
  'sessionId',
  'direction',
  'peer',
  'appId',
  'message',
  'data',
  'createdAt',
  'expiresAt',
  'state',
  'reason',
  'answeredAt',
  'delivery',
]);

function time(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new Error(`${what}: not a time`);
  return x;
}

export function checkInvitation(x: unknown): Invitation {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error('not an object');
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.has(k)) throw new Error(`unknown field ${JSON.stringify(k)}`);
  if (o.direction !== 'in' && o.direction !== 'out') throw new Error('direction: "in" or "out"');
  if (!STATES.includes(o.state as InvitationState))
    throw new Error(`state: unknown ${JSON.stringify(o.state)}`);
  if (!DELIVERY.includes(o.delivery as (typeof DELIVERY)[number])) throw new Error('delivery: unknown');
  if (typeof o.peer !== 'string' || o.peer.length === 0 || o.peer.length > 128)
    throw new Error('peer: not a peer id');
  const inv: Invitation = {
    id: checkId(o.id),
    sessionId: checkToken(o.sessionId, 'sessionId'),
    direction: o.direction,
    peer: o.peer,
    message: checkMessage(o.message),
    data: checkData(o.data),
    createdAt: time(o.createdAt, 'createdAt'),
    expiresAt: time(o.expiresAt, 'expiresAt'),
    state: o.state as InvitationState,
    delivery: o.delivery as Invitation['delivery'],
  };
  if (o.appId !== undefined) inv.appId = checkToken(o.appId, 'appId');
  if (o.reason !== undefined) {
    if (typeof o.reason !== 'string' || o.reason.length > 512) throw new Error('reason: a short string');
    inv.reason = o.reason;
  }
  if (o.answeredAt !== undefined) inv.answeredAt = time(o.answeredAt, 'answeredAt');
  if (inv.state === 'accepted' || inv.state === 'declined') checkAnswer(inv.state);
  return inv;
}

export function validateInvitations(x: unknown): InvitationsRecord {
  const o = x as Partial<InvitationsRecord> | null;
  if (!o || typeof o !== 'object' || !Array.isArray(o.invitations))
    throw new Error('invitations: must be a list');
  const seen = new Set<string>();
  const invitations = o.invitations.map((r, i) => {
    try {
      const v = checkInvitation(r);
      if (seen.has(v.id)) throw new Error(`id ${v.id} listed twice`);
      seen.add(v.id);
      return v;
    } catch (e) {
      throw new Error(`invitations[${i}]: ${(e as Error).message}`, { cause: e });
    }
  });
  return { version: o.version ?? INVITATIONS_VERSION, invitations };
}

/** Drop the oldest closed records beyond `keep` (pending ones are never dropped). Returns the dropped ids. */
export function prune(list: Invitation[], keep: number): string[] {
  const closed = list.filter((r) => r.state !== 'pending').sort((a, b) => a.createdAt - b.createdAt);
  return closed.slice(0, Math.max(0, closed.length - keep)).map((r) => r.id);
}

/** Open (or start) `<dataDir>/invitations.json`. */
export function openInvitationsStore(file: string, deps: StoreDeps): Promise<Store<InvitationsRecord>> {
  return openStore<InvitationsRecord>(
    {
      file,
      version: INVITATIONS_VERSION,
      defaults: { version: INVITATIONS_VERSION, invitations: [] },
      validate: validateInvitations,
    },
    deps,
  );
}
