/** A scripted peer client and contact list for the contact-presence shell tests. */
import { ManualClock } from '../../../firmware/core/clock.js';
import { PeerhubError } from '../../../firmware/core/errors.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { parsePeerId } from '../../../firmware/identity/peerid.js';
import type { Contact, ContactPresenceDeps, LivePresence } from '../../../firmware/contacts/index.js';
import type { PeerTarget, Subscription } from '../../../firmware/wire/index.js';

/** Canonical ids, as the contact manager stores them. */
export const ALICE = parsePeerId('A'.repeat(52));
export const BOB = parsePeerId('B'.repeat(51) + 'A');

export type Behaviour = 'ok' | 'down' | 'forbidden';

export interface FakeStream {
  peerId: string;
  endpoint: string;
  path: string;
  onEvent: (ev: unknown) => void;
  end: (reason: string) => void;
  closed: boolean;
}

export const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

export function contact(
  peerId: string,
  endpoints: string[],
  subscription: 'allowed' | 'blocked' = 'allowed',
): Contact {
  return {
    peerId,
    nickname: peerId.slice(0, 1),
    displayName: '',
    email: '',
    rootCertPem: '',
    endpoints,
    subscription,
    addedAt: 0,
    updatedAt: 0,
    verifiedAt: null,
  };
}

export function harness() {
  const clock = new ManualClock();
  const contacts = new Map<string, Contact>();
  const behave = new Map<string, Behaviour>(); // by endpoint
  const presence = new Map<string, LivePresence>(); // by peer id
  const nearbyRows: Array<{ id: string | null; endpoints: string[]; verified: boolean }> = [];
  const streams: FakeStream[] = [];
  const requests: string[] = []; // "GET /v1/presence @ endpoint"
  const attempts: string[] = []; // "subscribe <path> @ endpoint"
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  let changed: (() => void) | null = null;
  let unreachable: ((peerId: string, reason?: string) => void) | null = null;
  const where = (t: PeerTarget): string => `${t.host}:${t.port}`;
  const fail = (t: PeerTarget): void => {
    const b = behave.get(where(t)) ?? 'down';
    if (b === 'down') throw new PeerhubError('PH_ERR_PEER_UNREACHABLE', `connect to ${where(t)}: refused`);
    if (b === 'forbidden') throw new PeerhubError('PH_ERR_FORBIDDEN', 'no', { statusCode: 403 });
  };
  const client = {
    async request<T>(t: PeerTarget, method: string, path: string): Promise<T> {
      requests.push(`${method} ${path} @ ${where(t)}`);
      fail(t);
      return { ...(presence.get(t.peerId) ?? { status: 'Online', text: '', seq: 1 }) } as T;
    },
    async subscribe(t: PeerTarget, path: string, onEvent: (ev: unknown) => void): Promise<Subscription> {
      attempts.push(`subscribe ${path} @ ${where(t)}`);
      fail(t);
      let end!: (r: { reason: string }) => void;
      const ended = new Promise<{ reason: string }>((r) => (end = r));
      const s: FakeStream = {
        peerId: t.peerId,
        endpoint: where(t),
        path,
        onEvent,
        closed: false,
        end: (reason) => end({ reason }),
      };
      streams.push(s);
      return {
        ended,
        close: () => {
          s.closed = true;
          end({ reason: 'closed' });
        },
      };
    },
  };
  const deps: ContactPresenceDeps = {
    logger: silentLogger(),
    clock,
    bus: { emit: (type, data) => events.push({ type, data: data as Record<string, unknown> }) },
    contacts: {
      list: () => [...contacts.values()],
      get: (id) => {
        const c = contacts.get(id);
        if (!c) throw new PeerhubError('PH_ERR_CONTACT_NOT_FOUND');
        return c;
      },
    },
    onContactsChanged: (fn) => {
      changed = fn;
      return () => (changed = null);
    },
    nearby: () => nearbyRows,
    client: client as ContactPresenceDeps['client'],
    onUnreachable: (fn) => {
      unreachable = fn;
      return () => (unreachable = null);
    },
  };
  return {
    clock,
    deps,
    contacts,
    behave,
    presence,
    nearbyRows,
    streams,
    requests,
    attempts,
    events,
    open: (peerId: string) => streams.filter((s) => s.peerId === peerId && !s.closed),
    setContact(c: Contact) {
      contacts.set(c.peerId, c);
      changed?.();
    },
    removeContact(id: string) {
      contacts.delete(id);
      changed?.();
    },
    unreachable: (peerId: string) => unreachable?.(peerId, 'no PING answer'),
    listening: () => changed !== null || unreachable !== null,
    types: () => events.map((e) => e.type),
  };
}
