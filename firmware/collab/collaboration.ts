/**
 * The collaboration composition (issue 4): invitations, host requests, hosted sessions, joined sessions
 * and launches, wired to each other, to the peer API (routes + client transport) and to the owner's
 * policy. agent-trust.ts builds it before the peer server listens (its routes are part of the server)
 * and starts it after.
 */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { shortId } from '../identity/index.js';
import type { Identity } from '../identity/types.js';
import type { Store, StoreFs } from '../store/index.js';
import type { PeerTarget } from '../wire/types.js';
import type { Applications, Launcher } from './apps-types.js';
import { createCollabControl } from './control.js';
import type { CollabControl } from '../control/collab-types.js';
import { createHostRequests } from './host-requests.js';
import type { HostRequestEvents, HostRequests } from './host-requests-types.js';
import { createInvitations } from './invitations.js';
import { MemberLinks } from './member-links.js';
import { collabPeerRoutes } from './peer-routes.js';
import { createPeerTransport, type PeerRequester } from './peer-transport.js';
import { createInvitePolicy, type InvitePolicyControl } from './policy.js';
import { openJoinedStore, upsertJoined, type JoinedFile } from './joined-store.js';
import { openPolicyStore, type PolicyRecord } from './policy-store.js';
import { MemberStreams } from './session-streams.js';
import { createSessionHost } from './sessions-host.js';
import { SessionMembership } from './sessions-member.js';
import type { SessionEvents, SessionHost } from './sessions-types.js';
import type { InvitationEvents, Invitations } from './types.js';

export type CollabEvents = InvitationEvents & HostRequestEvents & SessionEvents;

export interface CollaborationDeps {
  dataDir: string;
  nickname: string;
  logger: Logger;
  clock: Clock;
  bus: {
    emit(type: string, data: unknown): unknown;
    on(type: string, fn: (data: never) => void): () => void;
  };
  identity: Identity;
  client: PeerRequester;
  /** Where a peer's API is (verified nearby rows first, then contacts' endpoints). */
  resolve(peerId: string): PeerTarget;
  /** A contact this hub accepts (not blocked). */
  isContact(peerId: string): boolean;
  /** Is this peer in People Near Me, verified right now? */
  verifiedNearby(peerId: string): boolean;
  /** The nickname this hub knows a peer by (contact first, then nearby). */
  nameOf(peerId: string): string | undefined;
  /** A peer id from what the owner typed (id, contact or nearby nickname). */
  peerRef(ref: string): string;
  /** Seed step 7: fetch the peer's card over the peer API and add it to contacts. */
  addContact(peerId: string): Promise<void>;
  apps: Applications;
  launcher: Launcher;
  clockSynchronised(): boolean;
  fs?: StoreFs;
}

export interface Collaboration {
  control: CollabControl;
  /** The peer API endpoints (registered by the peer server). */
  routes(app: FastifyInstance): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The peer client gave up on `peerId` (keep-alive): sessions it hosts are host-lost. */
  peerUnreachable(peerId: string, reason: string): void;
  counters(): Record<string, number>;
  parts: {
    invitations: Invitations;
    hostRequests: HostRequests;
    host: SessionHost;
    membership: SessionMembership;
    policy: InvitePolicyControl;
  };
}

/** A hub that accepted our host request may invite us for this long after its answer. */
export const HOST_REQUEST_INVITE_WINDOW_MS = 60 * 60_000;

export function createCollaboration(deps: CollaborationDeps): Collaboration {
  const { logger, clock, identity } = deps;
  const bus = deps.bus as never as {
    emit<K extends keyof CollabEvents & string>(type: K, data: CollabEvents[K]): unknown;
  };
  const publicKeyPem = new X509Certificate(identity.rootCertPem).publicKey
    .export({ type: 'spki', format: 'pem' })
    .toString();
  let policyStore: Store<PolicyRecord> | null = null;
  let joinedStore: Store<JoinedFile> | null = null;
  const streams = new MemberStreams();

  // The transport reads the membership's chains (a closure: called only once both exist).
  const transport = createPeerTransport({
    client: deps.client,
    resolve: deps.resolve,
    chainFor: (sessionId) => membership.get(sessionId).chainPem,
  });
  const membership = new SessionMembership({
    logger,
    clock,
    bus,
    client: transport,
    peerId: identity.peerId,
    publicKeyPem,
    persist: async (r) => void (await joinedStore?.update((d) => upsertJoined(d, r))),
  });
  const links = new MemberLinks({ logger, clock, membership, transport });

  const acceptedHostRequest = (peerId: string): boolean =>
    hostRequests
      .list({ direction: 'out', state: 'accepted' })
      .some((r) => r.peer === peerId && clock.now() - (r.answeredAt ?? 0) < HOST_REQUEST_INVITE_WINDOW_MS);
  const policy = createInvitePolicy({
    clock,
    // Contacts, a hub that accepted our host request, and the host of a session we joined.
    isContact: (p) =>
      deps.isContact(p) || acceptedHostRequest(p) || membership.list().some((s) => s.hostPeerId === p),
    isNearby: (p) => deps.verifiedNearby(p),
  });
  const invitations = createInvitations(
    {
      clock,
      logger,
      bus,
      store: join(deps.dataDir, 'invitations.json'),
      ...(deps.fs ? { fs: deps.fs } : {}),
      transport,
      policy,
    },
    {},
  );
  const host = createSessionHost(
    {
      logger,
      clock,
      bus,
      transport: streams,
      identity,
      // An accepted invitation — accepted after the member's removal, if it was removed.
      mayRegister: (sessionId, peerId) => {
        const removedAt = host.removedAt(sessionId, peerId) ?? -Infinity;
        return invitations
          .list({ direction: 'out', sessionId, peer: peerId, state: 'accepted' })
          .some((r) => (r.answeredAt ?? 0) > removedAt);
      },
      ...(deps.fs ? { fs: deps.fs } : {}),
    },
    { file: join(deps.dataDir, 'sessions.json') },
  );
  const hostRequests: HostRequests = createHostRequests({
    clock,
    logger,
    bus,
    transport,
    isContact: deps.isContact,
    openSession: async (r) => (await host.create(r.appId ? { appId: r.appId } : {})).id,
  });

  const control = createCollabControl({
    ...deps,
    invitations,
    hostRequests,
    host,
    membership,
    links,
    streams,
    policy,
    policyStore: () => {
      if (!policyStore) throw new Error('collaboration is not started');
      return policyStore;
    },
  });

  const offs: Array<() => void> = [];
  let started = false;
  const hosted = (sessionId: string): boolean => host.list().some((s) => s.id === sessionId);
  return {
    control,
    routes: (app) =>
      collabPeerRoutes(app, {
        logger: logger.child({ component: 'collab-peer' }),
        clock,
        invitations,
        hostRequests,
        host,
        streams,
        membership,
        clockSynchronised: deps.clockSynchronised,
        ready: () => started,
      }),
    async start() {
      policyStore = await openPolicyStore(join(deps.dataDir, 'policy.json'), {
        logger,
        ...(deps.fs ? { fs: deps.fs } : {}),
        now: () => clock.now(),
      });
      joinedStore = await openJoinedStore(join(deps.dataDir, 'joined.json'), {
        logger,
        ...(deps.fs ? { fs: deps.fs } : {}),
        now: () => clock.now(),
      });
      policy.set(policyStore.data.invite);
      hostRequests.setPolicy(policyStore.data.host);
      await invitations.start();
      await hostRequests.start();
      await host.start();
      // Sessions joined before a restart: attach to their hosts again (the hello brings what was missed).
      for (const id of membership.restore(joinedStore.data.sessions)) links.follow(id);
      started = true;
      const log = logger.child({ component: 'collab' });
      // A removed member or an ended session: its streams end (the notice went down them first).
      offs.push(
        deps.bus.on('session:member-left', (e: SessionEvents['session:member-left']) => {
          if (hosted(e.sessionId) && e.reason === 'removed') streams.close(e.sessionId, e.peerId);
        }),
        deps.bus.on('session:ended', (e: SessionEvents['session:ended']) => {
          // Each member's `ended` notice ends its stream (SessionStreams.notify); the notices are written
          // in the microtasks that follow this event, so the streams still open are closed after them.
          if (hosted(e.sessionId)) setImmediate(() => streams.close(e.sessionId));
          else links.unfollow(e.sessionId);
        }),
        // Seed step 7: a member's first activity (its registration) makes it a contact, per policy.
        deps.bus.on('session:member-joined', (e: SessionEvents['session:member-joined']) => {
          if (!hosted(e.sessionId) || policyStore?.data.contactsOnActivity !== 'add') return;
          if (deps.isContact(e.peerId)) return;
          deps.addContact(e.peerId).then(
            () => log.info({ peer: shortId(e.peerId), session: e.sessionId }, 'member added to contacts'),
            (err: Error) =>
              log.warn({ peer: shortId(e.peerId), err: err.message }, 'member not added to contacts'),
          );
        }),
      );
    },
    async stop() {
      started = false;
      for (const off of offs.splice(0)) off();
      links.stop();
      streams.closeAll();
      await deps.launcher.close();
      await hostRequests.stop();
      await invitations.stop();
      await host.stop();
      await policyStore?.close();
      await joinedStore?.close();
      policyStore = null;
      joinedStore = null;
    },
    peerUnreachable: (peerId, reason) => links.hostUnreachable(peerId, reason),
    counters: () => ({
      'collab.invitations.pending': invitations.list({ state: 'pending' }).length,
      'collab.sessions.hosted': host.list().filter((s) => s.state === 'open').length,
      'collab.sessions.joined': membership.list().filter((s) => s.state === 'joined').length,
      'collab.streams.attached': streams.size,
      'collab.launches.active': deps.launcher.active,
    }),
    parts: { invitations, hostRequests, host, membership, policy },
  };
}
