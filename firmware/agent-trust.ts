/**
 * The trust half of the composition root: TLS credentials, contacts, the mutual-TLS peer API (server
 * and client), People Near Me verification and contacts' presence. agent.ts loads it once the mDNS
 * probes are on the wire, so none of this delays being seen on the subnet.
 */
import { X509Certificate } from 'node:crypto';
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
import { createCollaboration, type CollabEvents } from './collab/collaboration.js';
import { createLauncher } from './collab/launcher.js';
import type { CollabControl } from './control/collab-types.js';
import type { ApplicationEvents, Applications, ObjectEvents, Objects } from './collab/apps-types.js';
import { createObjects } from './collab/objects.js';
import { createContactsControl } from './contacts/views.js';
import type { ContactsControl } from './control/contacts-types.js';
import type { PeerRow, StatusCounts } from './control/types.js';
import { parsePeerId, peerName } from './identity/index.js';
import { TlsCertificates } from './identity/tls.js';
import type { Identity } from './identity/types.js';
import type { LocalPresenceState } from './me/types.js';
import {
  createEndpointProver,
  createNearbyVerifier,
  parseEndpoint,
  type NearbyEvents,
} from './nearby/index.js';
import type { NearbyPeer, PresenceEvents, PresenceService } from './presence/types.js';
import { PeerClient } from './wire/client.js';
import { startPeerServer } from './wire/server.js';

export type TrustEvents = PresenceEvents &
  ApplicationEvents &
  ObjectEvents &
  ContactEvents &
  ContactPresenceEvents &
  NearbyEvents &
  CollabEvents & {
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
  collaboration: CollabControl;
  /** For `peerhub doctor`: the TLS leaf's expiry and whether it is provisional, the clock's state. */
  tlsInfo(): { notAfter: number; provisional: boolean; clockSynchronised: boolean };
  peers(): PeerRow[];
  counts(): StatusCounts;
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
  // Asked on every peer request and every People Near Me row: one lookup, not a copy of the whole list.
  const isContact = (peerId: string): boolean => contacts.byPeerId(peerId) !== undefined;
  const allowedContact = (peerId: string): boolean => {
    const c = contacts.byPeerId(peerId);
    return c !== undefined && c.subscription !== 'blocked';
  };
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
      prove: createEndpointProver({
        clock,
        logger: clientLog,
        credentials: () => tls.current(),
        clockSynchronised,
      }),
      isContact,
    },
    // A hub found while its peer API is still starting (connection refused) is retried soon, not in
    // 30 s; one that did not answer in time is busy, and waits the default 30 s (busyRetryMs).
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

  // Where a peer's API is: a verified People Near Me row first, then the contact's stored endpoints.
  const resolve = (peerId: string): { peerId: string; host: string; port: number } => {
    const id = parsePeerId(peerId);
    const rows = nearby.rowsOf(id).filter((r) => !r.spoof);
    const stored = contacts.byPeerId(id)?.endpoints ?? [];
    const endpoints = [...rows.filter((r) => r.verified), ...rows].flatMap((r) => r.endpoints).concat(stored);
    let ep: ReturnType<typeof parseEndpoint> = null;
    for (const e of endpoints) if ((ep = parseEndpoint(e, config.port))) break;
    if (!ep)
      throw new PeerhubError('PH_ERR_PEER_UNREACHABLE', `no known endpoint for ${id}`, { statusCode: 502 });
    return { peerId: id, ...ep };
  };
  const nameOf = (peerId: string): string | undefined =>
    contacts.byPeerId(peerId)?.nickname ?? nearby.rowsOf(peerId).find((r) => r.verified)?.nickname;
  const verifiedNearby = (peerId: string): boolean => nearby.rowsOf(peerId).some((r) => r.verified);
  const peerRef = (ref: string): string => {
    try {
      return parsePeerId(ref);
    } catch {
      // not an id: a contact's or a verified nearby hub's nickname
    }
    const byContact = contacts.list().filter((c) => c.nickname === ref);
    if (byContact.length === 1) return byContact[0]!.peerId;
    const near = [
      ...new Set(
        nearby
          .view()
          .filter((r) => r.verified && r.nickname === ref && r.id)
          .map((r) => r.id!),
      ),
    ];
    if (byContact.length === 0 && near.length === 1) return near[0]!;
    throw new PeerhubError(
      'PH_ERR_NOT_FOUND',
      byContact.length + near.length > 1
        ? `${ref} names several peers: use a peer id`
        : `no contact or verified nearby hub named ${ref}`,
      { statusCode: 404 },
    );
  };
  const collaboration = createCollaboration({
    dataDir: config.data_dir,
    nickname: config.nickname,
    logger: logger.child({ component: 'collab' }),
    clock,
    bus: bus as never,
    identity,
    client,
    resolve,
    isContact: allowedContact,
    verifiedNearby,
    nameOf,
    peerRef,
    async addContact(peerId) {
      const card = await client.request<{ peerId?: string }>(resolve(peerId), 'GET', '/v1/card');
      if (card?.peerId === undefined || parsePeerId(card.peerId) !== peerId) {
        throw new PeerhubError('PH_ERR_PEER_RESPONSE', 'the card is not the member’s');
      }
      await contacts.add(card);
    },
    apps,
    launcher: createLauncher({ logger: logger.child({ component: 'launcher' }), clock }),
    clockSynchronised,
  });
  bus.on('peer:unreachable', ({ peerId, reason }) => collaboration.peerUnreachable(peerId, reason));
  // What a caller may see of this hub's applications and objects: contacts Internet scope, the subnet NearMe.
  const visibility = (caller: string): Array<'contact' | 'nearby'> => [
    ...(allowedContact(caller) ? (['contact'] as const) : []),
    ...(verifiedNearby(caller) ? (['nearby'] as const) : []),
  ];

  // The peer API's own counters (refused connections, rejected chains, time-outs) once it listens.
  let wireCounters = (): Record<string, number> => ({});
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
        applications: (caller) => apps.listFor(visibility(caller)),
        objects: (caller) => objects.listFor(visibility(caller)),
        events: bus,
        authorizeSubscriber: (peerId) => {
          const ok = contacts.byPeerId(peerId)?.subscription === 'allowed';
          // Owners add each other one after the other: the second one's subscription tells us the
          // first refusal is over, so follow it back now rather than at the next slow retry.
          if (ok) queueMicrotask(() => contactPresence.welcome(peerId));
          return ok;
        },
      },
      { port: deps.peerListenPort ?? config.port, routes: (app) => collaboration.routes(app) },
    );
    stops.push(['peer-api', () => peerServer.stop()]);
    wireCounters = () => peerServer.counters();
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
    await collaboration.start();
    stops.push(['collaboration', () => collaboration.stop()]);
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
    collaboration: collaboration.control,
    tlsInfo: () => {
      const leaf = new X509Certificate(tls.current().chainPem[0] as string);
      const notAfter = Date.parse(leaf.validTo);
      // A provisional leaf (made while the clock read < 2020) lasts as long as the root.
      const provisional = notAfter - Date.parse(leaf.validFrom) > 31 * 86_400_000;
      return { notAfter, provisional, clockSynchronised: tls.clockSynchronised() };
    },
    peers: () => nearby.view(),
    counts: () => {
      const rows = nearby.view();
      // Before the collaboration stores are loaded its views answer PH_ERR_STARTING: count nothing yet.
      const safe = <T>(fn: () => T[]): T[] => {
        try {
          return fn();
        } catch {
          return [];
        }
      };
      const invitations = safe(() => collaboration.control.invitations());
      const sessions = safe(() => collaboration.control.sessions());
      return {
        peers: rows.length,
        verifiedPeers: rows.filter((r) => r.verified).length,
        contacts: contacts.list().length,
        invitations: invitations.length,
        pendingInvitations: invitations.filter((i) => i.state === 'pending').length,
        sessions: sessions.length,
        openSessions: sessions.filter((x) => x.state !== 'ended' && x.state !== 'left').length,
      };
    },
    counters: () => ({
      ...prefixed('nearby.', nearby.counters()),
      ...collaboration.counters(),
      ...prefixed('wire.', wireCounters()),
    }),
    stops,
  };
}
