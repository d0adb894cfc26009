/** In-memory network of invitation services on a shared ManualClock; stores on real files. */
import type { Test } from 'tap';
import { join } from 'node:path';
import { createInvitations, type InvitationsInit } from '../../../firmware/collab/invitations.js';
import { settle } from '../../../firmware/collab/invitations-wire.js';
import { createInvitePolicy, type InvitePolicyControl } from '../../../firmware/collab/policy.js';
import type {
  InboundResult,
  Invitation,
  InvitationEvents,
  Invitations,
  InvitationTransport,
} from '../../../firmware/collab/types.js';
import { ManualClock } from '../../../firmware/core/clock.js';
import { PeerhubError } from '../../../firmware/core/errors.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { parsePeerId } from '../../../firmware/identity/index.js';

export const T0 = 1_700_000_000_000;
export const [HOST, BOB, CAROL, DAVE] = ['H', 'B', 'C', 'D'].map((c) => parsePeerId(c.repeat(51) + 'A')) as [
  string,
  string,
  string,
  string,
];
const NAMES: Record<string, string> = { [HOST]: 'H', [BOB]: 'B', [CAROL]: 'C', [DAVE]: 'D' };
export const nameOf = (id: string): string => NAMES[id] ?? id.slice(0, 3);

export type Link = 'ok' | 'down' | 'hang' | 'forbidden';

export interface Hub {
  id: string;
  service: Invitations;
  policy: InvitePolicyControl;
  events: Array<{ type: keyof InvitationEvents; invitation: Invitation }>;
  contacts: Set<string>;
  file: string;
  restart(init?: InvitationsInit): Promise<void>;
}

/** Poll (real time) until `cond` holds: the store writes real files. */
export async function until(cond: () => boolean, what = 'condition', ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function network(t: Test) {
  const shared = new ManualClock(T0);
  const hubs = new Map<string, Hub>();
  const all: Hub[] = [];
  t.teardown(async () => {
    for (const h of all) await h.service.stop(); // before the test directory goes
  });
  const dir = t.testdir();
  const links = new Map<string, Link>(); // by destination
  const sent: string[] = [];
  const hung: Array<() => void> = [];
  const unreachable = () => new PeerhubError('PH_ERR_PEER_UNREACHABLE', 'connection refused');

  function transport(from: string): InvitationTransport {
    async function route<T>(
      to: string,
      kind: string,
      call: (h: Hub) => Promise<InboundResult<T>>,
    ): Promise<T> {
      sent.push(`${kind} ${nameOf(from)}>${nameOf(to)}`);
      const link = links.get(to) ?? 'ok';
      if (link === 'down') throw unreachable();
      if (link === 'forbidden')
        throw new PeerhubError('PH_ERR_INVITE_FORBIDDEN', 'contacts only', { statusCode: 403 });
      if (link === 'hang') {
        await new Promise<void>((r) => hung.push(r));
        throw unreachable();
      }
      const h = hubs.get(to);
      if (!h) throw unreachable();
      return settle(await call(h));
    }
    return {
      sendInvitation: (to, body) =>
        route(to, 'invitation', (h) => h.service.onInvitation(from, body)).then(() => undefined),
      sendAnswer: (to, body) => route(to, 'answer', (h) => h.service.onAnswer(from, body)),
      sendCancel: (to, body) =>
        route(to, 'cancel', (h) => h.service.onCancel(from, body)).then(() => undefined),
    };
  }

  async function hub(id: string, init: InvitationsInit = {}, clock: ManualClock = shared): Promise<Hub> {
    const events: Hub['events'] = [];
    const contacts = new Set<string>([HOST, BOB, CAROL, DAVE].filter((p) => p !== id));
    const bus = {
      emit<K extends keyof InvitationEvents & string>(type: K, data: InvitationEvents[K]): void {
        events.push({ type, invitation: data.invitation });
      },
    };
    const policy = createInvitePolicy({ clock, isContact: (p) => contacts.has(p), isNearby: () => false });
    const file = join(dir, nameOf(id), 'invitations.json');
    const make = (i: InvitationsInit) =>
      createInvitations(
        { clock, logger: silentLogger(), bus, store: file, transport: transport(id), policy },
        i,
      );
    const h: Hub = {
      id,
      service: make(init),
      policy,
      events,
      contacts,
      file,
      async restart(next = init) {
        await h.service.stop();
        h.service = make(next);
        await h.service.start();
      },
    };
    await h.service.start();
    all.push(h);
    hubs.set(id, h);
    return h;
  }

  /** Wait until no hub is writing, sending or answering (hung sends excepted: don't call it then). */
  async function quiet(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await Promise.all([...hubs.values()].map((h) => h.service.idle()));
      await new Promise((r) => setImmediate(r));
    }
  }

  return {
    quiet,
    clock: shared,
    hubs,
    links,
    sent,
    hub,
    /** Let hung sends fail now. */
    release: () => hung.splice(0).forEach((r) => r()),
    hung: () => hung.length,
    off: (id: string) => hubs.delete(id),
    on: (h: Hub) => hubs.set(h.id, h),
  };
}

export const types = (h: Hub): string[] => h.events.map((e) => e.type);
export const only = (h: Hub, id: string): Invitation => h.service.get(id);
