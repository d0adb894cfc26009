import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { claimSocket, localEndpoints, memoryMB, packageVersion, prefixed } from './agent-support.js';
import { loadConfig, type LoadInput } from './config/load.js';
import type { Config } from './config/schema.js';
import { EventBus } from './core/bus.js';
import { systemClock, type Clock } from './core/clock.js';
import { PeerhubError, isPeerhubError } from './core/errors.js';
import { createLogger, type Logger } from './core/logger.js';
import {
  createContactManager,
  createContactPresence,
  type ContactEvents,
  type ContactPresenceEvents,
} from './contacts/index.js';
import { createContactsControl } from './contacts/views.js';
import type { PeerRow, StatusView } from './control/types.js';
import { loadOrCreateIdentity, peerName } from './identity/index.js';
import { TlsCertificates } from './identity/tls.js';
import type { Identity } from './identity/types.js';
import { LocalPresence } from './me/local-presence.js';
import type { LocalPresenceEvents } from './me/types.js';
import { createMdnsPresence } from './presence/index.js';
import type { MdnsTransport } from './presence/transport.js';
import type { NearbyPeer, PresenceEvents, PresenceService } from './presence/types.js';
import { PeerClient } from './wire/client.js';
import { createCardFetcher, createNearbyVerifier, parseEndpoint, type NearbyEvents } from './nearby/index.js';

export type AgentEvents = PresenceEvents &
  LocalPresenceEvents &
  ContactEvents &
  ContactPresenceEvents &
  NearbyEvents & {
    'peer:unreachable': { peerId: string; host: string; port: number; reason: string };
    'agent:ready': { id: string };
  };

const STOP_DEADLINE_MS = 1800;

export interface Agent {
  readonly identity: Identity;
  readonly config: Config;
  readonly bus: EventBus<AgentEvents>;
  stop(): Promise<void>;
}

/** Edges a test may replace (an in-memory LAN instead of the mDNS socket). */
export interface AgentOverrides {
  transport?: MdnsTransport;
  /** Listen port of the peer API (0: any free port), when it must differ from the announced one. */
  peerListenPort?: number;
  /** The agent's clock (tests: a Pi without RTC that believes it is 1970). */
  clock?: Clock;
}

/** Composition root: config → services → start in order; stop in reverse. The only file that knows everyone. */
export async function startAgent(
  config: Config,
  logger: Logger,
  overrides: AgentOverrides = {},
): Promise<Agent> {
  const started = Date.now();
  const clock = overrides.clock ?? systemClock;
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const bus = new EventBus<AgentEvents>(clock.now);

  const { identity } = await loadOrCreateIdentity(
    { now: clock.now, logger: logger.child({ component: 'identity' }) },
    { dataDir: config.data_dir },
  );

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
          ? bus.emit('peer:unreachable', data as AgentEvents['peer:unreachable'])
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

  const presence: PresenceService = createMdnsPresence(
    { clock, logger: logger.child({ component: 'presence' }), bus, transport: overrides.transport },
    {
      interface: config.interface,
      hostname: config.presence.hostname,
      ttlHost: config.presence.ttl_host,
      ttlService: config.presence.ttl_service,
    },
  );
  const me = await LocalPresence.open(
    { logger: logger.child({ component: 'me' }), bus, presence },
    {
      file: join(config.data_dir, 'state.json'),
      nickname: config.nickname,
      peerId: identity.peerId,
      port: config.port,
    },
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
    { selfPeerId: identity.peerId },
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
  const contactsControl = createContactsControl({
    manager: contacts,
    live: (peerId) => contactPresence.view(peerId),
    nearby: () => presence.peers(),
    fetchCard: (p) => client.request(targetOf(p), 'GET', '/v1/card'),
    follow: (peerId) => contactPresence.welcome(peerId),
  });
  const peerRows = (): PeerRow[] => nearby.view();

  const version = packageVersion();
  const status = (): StatusView => {
    const names = presence.names();
    const s = me.state;
    return {
      id: identity.peerId,
      shortId: identity.shortId,
      peerName: peerName(identity.peerId, config.classifier),
      nickname: config.nickname,
      classifier: config.classifier,
      scope: s.scope,
      presence: { status: s.status, text: s.text, seq: s.seq },
      mdns: {
        backend: presence.backend,
        instance: names.instance,
        host: names.host,
        interface: config.interface ?? null,
      },
      port: config.port,
      version,
      pid: process.pid,
      uptimeMs: Date.now() - started,
      counters: { ...presence.counters(), ...prefixed('nearby.', nearby.counters()) },
      memory: memoryMB(),
    };
  };

  const stops: Array<[string, () => Promise<void>]> = [];
  await claimSocket(config.control_socket); // before anything goes on the network
  try {
    await tls.start();
    stops.push(['tls', () => tls.stop()]);
    await contacts.open();
    stops.push(['contacts', () => contacts.close()]);
    await presence.start();
    stops.push(['presence', () => presence.stop()]);
    await nearby.start();
    stops.push(['nearby', () => nearby.stop()]);
    me.start(); // probing starts now; the control API loads while the probes are on the wire
    stops.push(['me', () => me.stop()]);
    const { startPeerServer } = await import('./wire/server.js');
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
        presence: () => ({ status: me.state.status, text: me.state.text, seq: me.state.seq }),
        applications: () => [],
        objects: () => [],
        events: bus,
        authorizeSubscriber: (peerId) => {
          const ok = contacts.list().some((c) => c.peerId === peerId && c.subscription === 'allowed');
          // Owners add each other one after the other: the second one's subscription tells us the
          // first refusal is over, so follow it back now rather than at the next slow retry.
          if (ok) queueMicrotask(() => contactPresence.welcome(peerId));
          return ok;
        },
      },
      { port: overrides.peerListenPort ?? config.port },
    );
    stops.push(['peer-api', () => peerServer.stop()]);
    stops.push(['peer-client', async () => client.close()]);
    await contactPresence.start();
    stops.push(['contact-presence', () => contactPresence.stop()]);
    // A contact blocked or removed loses its open streams at once, not at its next request.
    bus.on('contact:updated', ({ contact }) => {
      if (contact.subscription === 'blocked') peerServer.dropPeer(contact.peerId);
    });
    bus.on('contact:deleted', ({ contact }) => peerServer.dropPeer(contact.peerId));
    const { buildControlApi } = await import('./control/app.js');
    const control = buildControlApi({
      logger: logger.child({ component: 'control' }),
      events: bus,
      status,
      peers: peerRows,
      contacts: contactsControl,
      setPresence: (st, text) => me.set(st, text),
      signIn: (scope) => me.signIn(scope),
      signOut: () => me.signOut(),
    });
    await control.listen({ path: config.control_socket });
    chmodSync(config.control_socket, 0o660);
    stops.push(['control', async () => void (await control.close())]);
  } catch (e) {
    for (const [, stop] of stops.reverse()) await stop().catch(() => undefined);
    throw e;
  }
  bus.emit('agent:ready', { id: identity.peerId });
  logger.info(
    { id: identity.shortId, socket: config.control_socket, port: config.port, host: presence.names().host },
    'agent ready',
  );

  return {
    identity,
    config,
    bus,
    async stop() {
      for (const [name, stop] of [...stops].reverse()) {
        try {
          await stop();
        } catch (e) {
          logger.warn({ service: name, err: (e as Error).message }, 'stop failed');
        }
      }
      stops.length = 0;
    },
  };
}

/** `peerhub agent`: run in the foreground until SIGTERM/SIGINT. Returns the exit code. */
export async function runAgent(input: LoadInput): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(input);
  } catch (e) {
    process.stderr.write(`peerhub: ${(e as Error).message}\n`);
    return 2;
  }
  const logger = createLogger(config.log_level);
  let agent: Agent;
  try {
    agent = await startAgent(config, logger);
  } catch (e) {
    const code = isPeerhubError(e) ? e.code : 'PH_ERR_INTERNAL';
    logger.error({ code, err: (e as Error).message }, 'agent failed to start');
    process.stderr.write(`peerhub: ${(e as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal: sig }, 'stopping');
      const deadline = setTimeout(() => {
        logger.warn({ deadlineMs: STOP_DEADLINE_MS }, 'stop deadline passed; exiting');
        process.exit(0);
      }, STOP_DEADLINE_MS);
      void agent.stop().then(() => {
        clearTimeout(deadline);
        logger.info({}, 'stopped');
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolve(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
