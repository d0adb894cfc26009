/**
 * The trust half of the composition root: TLS credentials, contacts, the mutual-TLS peer API (server
 * and client), People Near Me verification and contacts' presence. agent.ts loads it once the mDNS
 * probes are on the wire, so none of this delays being seen on the subnet.
 */
import { join } from 'node:path';
import { localEndpoints, prefixed } from './agent-support.js';
import type { Config } from './config/schema.js';
import type { EventBus } from './core/bus.js';
import type { Clock } from './core/clock.js';
import { PeerhubError } from './core/errors.js';
import type { Logger } from './core/logger.js';
import {
  createContactManager,
  createContactPresence,
  type ContactEvents,
  type ContactPresenceEvents,
} from './contacts/index.js';
import { createApplications } from './collab/apps.js';
import type { ApplicationEvents, Applications, ObjectEvents, Objects } from './collab/apps-types.js';
import { createObjects } from './collab/objects.js';
import { createContactsControl } from './contacts/views.js';
import type { ContactsControl } from './control/contacts-types.js';
import type { PeerRow } from './control/types.js';
import { peerName } from './identity/index.js';
import { TlsCertificates } from './identity/tls.js';
import type { Identity } from './identity/types.js';
import type { LocalPresenceState } from './me/types.js';
import { createCardFetcher, createNearbyVerifier, parseEndpoint, type NearbyEvents } from './nearby/index.js';
import type { NearbyPeer, PresenceEvents, PresenceService } from './presence/types.js';
import { PeerClient } from './wire/client.js';
import { startPeerServer } from './wire/server.js';

export type TrustEvents = PresenceEvents &
  ApplicationEvents &
  ObjectEvents &
  ContactEvents &
  ContactPresenceEvents &
  NearbyEvents & {
    'peer:unreachable': { peerId: string; host: string; port: number; reason: string };
  };

export interface TrustDeps {
  config: Config;
  logger: Logger;
  clock: Clock;
  bus: Pick<EventBus<TrustEvents>, 'emit' | 'on' | 'since' | 'onAny' | 'lastId'>;
  identity: Identity;
  presence: Pick<PresenceService, 'peers'>;
  localPresence(): LocalPresenceState;
  peerListenPort?: number;
}

export interface Trust {
  contacts: ContactsControl;
  collab: { apps: Applications; objects: Objects };
  peers(): PeerRow[];
  counters(): Record<string, number>;
  /** Services started, in order: the agent stops them in reverse. */
  stops: Array<[string, () => Promise<void>]>;
}

export async function startTrust(deps: TrustDeps): Promise<Trust> {
  const { config, logger, clock, bus, identity, presence } = deps;
  const stops: Array<[string, () => Promise<void>]> = [];
  const tls = new TlsCertificates(
    { clock, logger: logger.child({ component: 'tls' }), identity },
    { dataDir: config.data_dir },
  );
  // Until the clock is sane (a Pi without RTC boots at 1970), chains are checked with a tolerance.
  const clockSynchronised = (): boolean => tls.clockSynchronised();
  const contacts = createContactManager(
    { logger: logger.child({ component: 'contacts' }), bus, clock },
    {
      file: join(config.data_dir, 'contacts.json'),
      me: {
        peerId: identity.peerId,
        nickname: config.nickname,
        rootCertPem: identity.rootCertPem,
        endpoints: localEndpoints(config.port, config.interface),
      },
    },
  );
  const clientLog = logger.child({ component: 'peer-client' });
  const client = new PeerClient({
    clock,
    logger: clientLog,
    credentials: () => tls.current(),
    clockSynchronised,
    events: {
      // Spoofs of People Near Me are the verifier's events; a contact's endpoint answering with
      // another key is logged here (the request itself fails with PH_ERR_PEER_SPOOF).
      emit: (type, data) =>
        type === 'peer:unreachable'
          ? bus.emit('peer:unreachable', data as TrustEvents['peer:unreachable'])
          : clientLog.warn({ ...data }, 'contact endpoint presented another key'),
    },
  });
  const targetOf = (p: NearbyPeer): { peerId: string; host: string; port: number } => {
    const ep = p.endpoints.map((e) => parseEndpoint(e, config.port)).find((e) => e !== null);
    if (!p.id || !ep)
      throw new PeerhubError('PH_ERR_NOT_FOUND', `${p.nickname} has no reachable endpoint yet`);
    return { peerId: p.id, ...ep };
  };
  const isContact = (peerId: string): boolean => contacts.list().some((c) => c.peerId === peerId);
  // What this hub publishes with its presence (the seed's applications and objects).
  const apps = createApplications(
    { logger: logger.child({ component: 'apps' }), clock, bus },
    { file: join(config.data_dir, 'applications.json') },
  );
  const objects = createObjects(
    { logger: logger.child({ component: 'objects' }), clock, bus },
    { file: join(config.data_dir, 'objects.json') },
  );

  // People Near Me, verified: one handshake to exactly the announced endpoint proves (or refutes) the id.
  const nearby = createNearbyVerifier(
    {
      logger: logger.child({ component: 'nearby' }),
      clock,
      bus,
      peers: () => presence.peers(),
      onPeerEvent: (fn) => {
        const offs = [
          bus.on('peer:found', (p) => fn('peer:found', p)),
          bus.on('peer:changed', (p) => fn('peer:changed', p)),
          bus.on('peer:lost', ({ peer }) => fn('peer:lost', peer)),
        ];
        return () => offs.forEach((off) => off());
      },
      fetchCard: createCardFetcher({
        clock,
        logger: clientLog,
        credentials: () => tls.current(),
        clockSynchronised,
      }),
      isContact,
    },
    // A hub found while its peer API is still starting is retried soon, not in 30 s.
    { selfPeerId: identity.peerId, retryMs: 3000 },
  );
  // Presence of contacts, pushed over a subscription on their peer API.
  const contactPresence = createContactPresence(
    {
      logger: logger.child({ component: 'contact-presence' }),
      clock,
      bus,
      contacts,
      onContactsChanged: (fn) => {
        const offs = [
          bus.on('contact:added', fn),
          bus.on('contact:updated', fn),
          bus.on('contact:deleted', fn),
        ];
        return () => offs.forEach((off) => off());
      },
      nearby: () => nearby.view(),
      client,
      onUnreachable: (fn) => bus.on('peer:unreachable', (d) => fn(d.peerId, d.reason)),
    },
    { port: config.port },
  );
  bus.on('peer:verified', ({ peer }) => {
    if (peer.id) contactPresence.poke(peer.id);
  });

  try {
    await tls.start();
    stops.push(['tls', () => tls.stop()]);
    await contacts.open();
    stops.push(['contacts', () => contacts.close()]);
    await apps.open();
    stops.push(['apps', () => apps.close()]);
    await objects.open();
    stops.push(['objects', () => objects.close()]);
    const peerServer = await startPeerServer(
      {
        logger: logger.child({ component: 'peer-api' }),
        clock,
        credentials: tls,
        clockSynchronised,
        card: () => ({
          ...contacts.me(),
          classifier: config.classifier,
          peerName: peerName(identity.peerId, config.classifier),
        }),
        presence: () => {
          const s = deps.localPresence();
          return { status: s.status, text: s.text, seq: s.seq };
        },
        // Callers are authenticated hubs, contacts or not: what NearMe or Internet scope publishes.
        applications: () => apps.listFor(['contact', 'nearby']),
        objects: () => objects.listFor(['contact', 'nearby']),
        events: bus,
        authorizeSubscriber: (peerId) => {
          const ok = contacts.list().some((c) => c.peerId === peerId && c.subscription === 'allowed');
          // Owners add each other one after the other: the second one's subscription tells us the
          // first refusal is over, so follow it back now rather than at the next slow retry.
          if (ok) queueMicrotask(() => contactPresence.welcome(peerId));
          return ok;
        },
      },
      { port: deps.peerListenPort ?? config.port },
    );
    stops.push(['peer-api', () => peerServer.stop()]);
    stops.push(['peer-client', async () => client.close()]);
    // A contact blocked or removed loses its open streams at once, not at its next request.
    bus.on('contact:updated', ({ contact }) => {
      if (contact.subscription === 'blocked') peerServer.dropPeer(contact.peerId);
    });
    bus.on('contact:deleted', ({ contact }) => peerServer.dropPeer(contact.peerId));
    await nearby.start();
    stops.push(['nearby', () => nearby.stop()]);
    await contactPresence.start();
    stops.push(['contact-presence', () => contactPresence.stop()]);
  } catch (e) {
    for (const [, stop] of stops.reverse()) await stop().catch(() => undefined);
    throw e;
  }

  return {
    contacts: createContactsControl({
      manager: contacts,
      live: (peerId) => contactPresence.view(peerId),
      nearby: () => presence.peers(),
      fetchCard: (p) => client.request(targetOf(p), 'GET', '/v1/card'),
      follow: (peerId) => contactPresence.welcome(peerId),
    }),
    collab: { apps, objects },
    peers: () => nearby.view(),
    counters: () => prefixed('nearby.', nearby.counters()),
    stops,
  };
}
