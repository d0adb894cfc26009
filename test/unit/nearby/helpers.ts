/** A fake People Near Me table and a scripted proof (TLS handshake), for the verifier's shell tests. */
import { ManualClock } from '../../../firmware/core/clock.js';
import { PeerhubError } from '../../../firmware/core/errors.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import type { NearbyEvents, NearbyVerifierDeps, PeerEventType } from '../../../firmware/nearby/index.js';
import type { NearbyPeer } from '../../../firmware/presence/types.js';

export const ALICE = 'A'.repeat(52);
export const BOB = 'B'.repeat(52);
export const MALLORY = 'M'.repeat(52);
export const SELF = 'S'.repeat(52);

export function nearby(
  instance: string,
  id: string | null,
  endpoints: string[],
  extra: Partial<NearbyPeer> = {},
): NearbyPeer {
  return {
    instance,
    id,
    nickname: instance,
    status: 'Online',
    seq: 1,
    host: `${instance.toLowerCase()}.local`,
    port: 7443,
    endpoints,
    wellFormed: true,
    txt: {},
    firstSeen: 0,
    lastSeen: 0,
    ...extra,
  };
}

/**
 * What the endpoint does when checked: prove `proves` (as if the handshake checked that root), prove
 * another id than asked (`spoof`), fail, or hang.
 */
export type Behaviour = { proves: string } | { spoof: string } | 'down' | 'hang';

export interface Harness {
  clock: ManualClock;
  deps: NearbyVerifierDeps;
  events: Array<{ type: keyof NearbyEvents; data: unknown }>;
  calls: string[];
  behave: Map<string, Behaviour>;
  /** Resolve every hanging proof of an endpoint with its current behaviour. */
  release(endpoint: string): void;
  found(p: NearbyPeer): void;
  changed(p: NearbyPeer): void;
  lost(p: NearbyPeer): void;
  contacts: Set<string>;
}

export const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

export function harness(initial: NearbyPeer[] = []): Harness {
  const clock = new ManualClock();
  const table = new Map(initial.map((p) => [p.instance, p]));
  const listeners = new Set<(type: PeerEventType, p: NearbyPeer) => void>();
  const events: Harness['events'] = [];
  const calls: string[] = [];
  const behave = new Map<string, Behaviour>();
  const hanging = new Map<string, Array<() => void>>();
  const contacts = new Set<string>();
  const run = (b: Behaviour | undefined, peerId: string): { peerId: string } => {
    if (b === undefined || b === 'down') throw new PeerhubError('PH_ERR_PEER_UNREACHABLE', 'refused');
    if (b === 'hang') throw new Error('still hanging');
    if ('spoof' in b) {
      throw new PeerhubError('PH_ERR_PEER_SPOOF', `x presented peer id ${b.spoof}, expected ${peerId}`);
    }
    return { peerId: b.proves };
  };
  const emit = (type: PeerEventType, p: NearbyPeer): void => {
    for (const l of listeners) l(type, p);
  };
  const deps: NearbyVerifierDeps = {
    logger: silentLogger(),
    clock,
    bus: { emit: (type, data) => events.push({ type, data }) },
    peers: () => [...table.values()],
    onPeerEvent: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    prove: async ({ peerId, host, port }) => {
      const ep = `${host}:${port}`;
      calls.push(ep);
      const b = behave.get(ep);
      if (b === 'hang') {
        await new Promise<void>((r) => hanging.set(ep, [...(hanging.get(ep) ?? []), r]));
        return run(behave.get(ep), peerId);
      }
      return run(b, peerId);
    },
    isContact: (id) => contacts.has(id),
  };
  return {
    clock,
    deps,
    events,
    calls,
    behave,
    contacts,
    release(ep) {
      for (const r of hanging.get(ep) ?? []) r();
      hanging.delete(ep);
    },
    found(p) {
      table.set(p.instance, p);
      emit('peer:found', p);
    },
    changed(p) {
      table.set(p.instance, p);
      emit('peer:changed', p);
    },
    lost(p) {
      table.delete(p.instance);
      emit('peer:lost', p);
    },
  };
}
