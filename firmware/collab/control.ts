/**
 * CollabControl: what the owner does with collaboration (control API, CLI, later the panel's buttons),
 * on top of the services. Accepting an invitation also registers with its host (membership
 * certificate) and launches the application it names; inviting without a session opens one.
 */
import { X509Certificate as X509 } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { shortId } from '../identity/index.js';
import type { Store } from '../store/index.js';
import type {
  AcceptView,
  CollabControl,
  HostRequestView,
  InvitationView,
  PolicyView,
  SessionDetail,
  SessionView,
} from '../control/collab-types.js';
import type { Applications, Launcher } from './apps-types.js';
import type { HostRequest, HostRequests } from './host-requests-types.js';
import type { MemberLinks } from './member-links.js';
import { checkMode, type InvitePolicyControl } from './policy.js';
import { nearbyUntil, type PolicyRecord } from './policy-store.js';
import type { MemberStreams } from './session-streams.js';
import type { JoinedSession, SessionMembership } from './sessions-member.js';
import type { SessionHost, SessionView as HostedView } from './sessions-types.js';
import type { Invitation, Invitations } from './types.js';

export interface CollabControlDeps {
  logger: Logger;
  clock: Clock;
  nickname: string;
  identity: { peerId: string };
  nameOf(peerId: string): string | undefined;
  peerRef(ref: string): string;
  apps: Applications;
  launcher: Launcher;
  invitations: Invitations;
  hostRequests: HostRequests;
  host: SessionHost;
  membership: SessionMembership;
  links: MemberLinks;
  streams: MemberStreams;
  policy: InvitePolicyControl;
  policyStore(): Store<PolicyRecord>;
}

/** How long `invite` and `accept` wait for the other hub to acknowledge before answering the owner. */
export const DELIVERY_WAIT_MS = 5_000;

export function createCollabControl(deps: CollabControlDeps): CollabControl {
  const { invitations, hostRequests, host, membership, links, clock } = deps;
  const log = deps.logger.child({ component: 'collab-control' });
  const name = (peerId: string): string => deps.nameOf(peerId) ?? shortId(peerId);

  const invView = (r: Invitation): InvitationView => ({
    id: r.id,
    session: r.sessionId,
    peer: r.peer,
    name: name(r.peer),
    direction: r.direction,
    state: r.state,
    ...(r.appId === undefined ? {} : { appId: r.appId }),
    message: r.message,
    data: r.data,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    ...(r.answeredAt === undefined ? {} : { answeredAt: r.answeredAt }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    delivery: r.delivery,
  });
  const hrView = (r: HostRequest): HostRequestView => ({
    id: r.id,
    direction: r.direction,
    peer: r.peer,
    name: name(r.peer),
    ...(r.appId === undefined ? {} : { appId: r.appId }),
    message: r.message,
    state: r.state,
    ...(r.sessionId === undefined ? {} : { session: r.sessionId }),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    ...(r.answeredAt === undefined ? {} : { answeredAt: r.answeredAt }),
  });
  const hostedView = (s: HostedView): SessionView => ({
    id: s.id,
    host: s.hostPeerId,
    role: 'host',
    state: s.state,
    ...(s.appId === undefined ? {} : { appId: s.appId }),
    seq: s.seq,
    members: s.members.map((m) => ({
      id: m.peerId,
      name: m.nickname ?? name(m.peerId),
      registeredAt: m.registeredAt,
      connected: deps.streams.connected(s.id, m.peerId),
    })),
    invitations: invitations.tally(s.id),
  });
  const joinedView = (s: JoinedSession): SessionView => ({
    id: s.id,
    host: s.hostPeerId,
    role: 'member',
    state: s.state,
    seq: s.lastSeq,
    members: s.members.map((m) => ({ id: m.peerId, name: m.nickname ?? name(m.peerId) })),
    membership: { certPem: s.certPem, chainPem: s.chainPem, expiresAt: certExpiry(s.certPem) },
  });
  const hostsIt = (id: string): boolean => host.list().some((s) => s.id === id);
  const joinedIt = (id: string): boolean => membership.list().some((s) => s.id === id);
  const notFound = (id: string): PeerhubError =>
    new PeerhubError('PH_ERR_SESSION_NOT_FOUND', `no session ${id} on this hub`, { statusCode: 404 });

  /** Wait (bounded) until none of `ids` is still being delivered. */
  const settled = (ids: string[], ms = DELIVERY_WAIT_MS): Promise<void> => invitations.delivered(ids, ms);

  const launch = (inv: Invitation): AcceptView['launched'] => {
    if (!inv.appId) return undefined;
    const app = deps.apps.get(inv.appId);
    if (!app) return { appId: inv.appId, error: `application ${inv.appId} is not registered on this hub` };
    const info = {
      inviter: { peerId: inv.peer, nickname: (deps.nameOf(inv.peer) ?? shortId(inv.peer)).slice(0, 63) },
      message: inv.message,
      data: inv.data,
      sessionId: inv.sessionId,
      invitationId: inv.id,
    };
    deps.launcher.launch(app, info).then(
      (r) =>
        log.info(
          { app: app.id, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut },
          'application done',
        ),
      (e: Error) => log.warn({ app: app.id, err: e.message }, 'application not launched'),
    );
    return { appId: app.id };
  };

  const policyView = (): PolicyView => {
    const p = deps.policyStore().data;
    return {
      invite: deps.policy.get(),
      host: hostRequests.policy(),
      contactsOnActivity: p.contactsOnActivity,
    };
  };

  return {
    async hostRequest(peer, opts) {
      const peerId = deps.peerRef(peer);
      const before = new Set(hostRequests.list({ direction: 'out' }).map((r) => r.id));
      const o = await hostRequests.request(peerId, opts);
      const mine = hostRequests
        .list({ direction: 'out' })
        .find((r) => !before.has(r.id) && r.peer === peerId);
      return {
        id: mine?.id ?? '',
        peer: peerId,
        state: o.state,
        ...(o.sessionId === undefined ? {} : { session: o.sessionId }),
        ...(o.reason === undefined ? {} : { reason: o.reason }),
      };
    },
    hostRequests: (filter = {}) => hostRequests.list(filter).map(hrView),
    answerHostRequest: async (id, answer) => hrView(await hostRequests.answer(id, answer)),

    async invite(req) {
      let session = req.session;
      if (session === undefined) {
        session = (await host.create(req.appId ? { appId: req.appId } : {})).id;
      } else {
        const s = host.get(session);
        if (s.state !== 'open')
          throw new PeerhubError('PH_ERR_SESSION_ENDED', `session ${session} has ended`, { statusCode: 409 });
      }
      const peers = req.peers.map((p) => deps.peerRef(p));
      const created = await invitations.invite(peers, {
        sessionId: session,
        message: req.message ?? '',
        ...(req.appId === undefined ? {} : { appId: req.appId }),
        ...(req.data === undefined ? {} : { data: req.data }),
        ...(req.expiresInMs === undefined ? {} : { expiresInMs: req.expiresInMs }),
      });
      await settled(created.map((r) => r.id));
      return { session, invitations: created.map((r) => invView(invitations.get(r.id))) };
    },
    invitations: (f = {}) =>
      invitations
        .list({
          ...(f.direction === undefined ? {} : { direction: f.direction }),
          ...(f.state === undefined ? {} : { state: f.state }),
          ...(f.session === undefined ? {} : { sessionId: f.session }),
        })
        .map(invView),
    invitation: (id) => invView(invitations.get(id)),

    async accept(id) {
      const inv = invitations.get(id);
      if (inv.direction !== 'in') {
        throw new PeerhubError('PH_ERR_INVITATION_INVALID', 'only the invited hub answers an invitation', {
          statusCode: 400,
        });
      }
      if (inv.appId && !deps.apps.get(inv.appId) && inv.state === 'pending') {
        // An application this hub does not have cannot be launched: declined, and the owner is told why.
        const r = await invitations.answer(id, 'declined');
        await settled([id]);
        return {
          ...invView(invitations.get(r.id)),
          joined: false,
          launched: {
            appId: inv.appId,
            error: `application ${inv.appId} is not registered on this hub: declined`,
          },
        };
      }
      await invitations.answer(id, 'accepted');
      await settled([id], 10_000);
      const now = invitations.get(id);
      const view: AcceptView = { ...invView(now), joined: false };
      if (now.state !== 'accepted') return view;
      try {
        await membership.join(now.peer, now.sessionId, deps.nickname.slice(0, 64));
        links.follow(now.sessionId);
        view.joined = true;
      } catch (e) {
        view.joinError = (e as Error).message;
        log.warn({ session: now.sessionId, err: view.joinError }, 'could not register with the host');
      }
      const launched = launch(now);
      if (launched) view.launched = launched;
      return view;
    },
    async decline(id) {
      await invitations.answer(id, 'declined');
      await settled([id]);
      return invView(invitations.get(id));
    },
    async cancel(id) {
      await invitations.cancel(id);
      await settled([id]);
      return invView(invitations.get(id));
    },
    async cancelNoResponse(session) {
      const done = await invitations.cancelNoResponse(session);
      await settled(done.map((r) => r.id));
      return done.map((r) => invView(invitations.get(r.id)));
    },

    sessions: () => [...host.list().map(hostedView), ...membership.list().map(joinedView)],
    session(id) {
      if (hostsIt(id)) {
        const s = host.get(id);
        return { ...hostedView(s), messages: s.messages.map(msg) } satisfies SessionDetail;
      }
      if (joinedIt(id)) {
        const s = membership.get(id);
        return { ...joinedView(s), messages: s.messages.map(msg) };
      }
      throw notFound(id);
    },
    createSession: async (opts = {}) => hostedView(await host.create(opts)),
    async send(session, text) {
      if (hostsIt(session)) return msg(await host.post(session, deps.identity.peerId, text));
      if (joinedIt(session)) return msg(await membership.send(session, text));
      throw notFound(session);
    },
    async leave(session) {
      if (!joinedIt(session)) throw notFound(session);
      await membership.leave(session);
      links.unfollow(session);
      return joinedView(membership.get(session));
    },
    async end(session) {
      if (!hostsIt(session)) throw notFound(session);
      await host.end(session);
      await invitations.cancelNoResponse(session);
      return hostedView(host.get(session));
    },
    async removeMember(session, peer) {
      if (!hostsIt(session)) throw notFound(session);
      await host.remove(session, deps.peerRef(peer));
      return hostedView(host.get(session));
    },

    policy: policyView,
    async setPolicy(patch) {
      const now = clock.now();
      const invite =
        patch.invite === undefined
          ? undefined
          : patch.invite.mode === 'nearby'
            ? checkMode({ mode: 'nearby', until: nearbyUntil(patch.invite.minutes, now) }, now)
            : checkMode({ mode: patch.invite.mode }, now);
      await deps.policyStore().update((d) => {
        if (invite) d.invite = invite;
        if (patch.host) d.host = patch.host;
        if (patch.contactsOnActivity) d.contactsOnActivity = patch.contactsOnActivity;
      });
      if (invite) deps.policy.set(invite);
      if (patch.host) hostRequests.setPolicy(patch.host);
      log.info(
        { invite: invite?.mode, host: patch.host, contactsOnActivity: patch.contactsOnActivity },
        'policy changed',
      );
      return policyView();
    },
  };
}

function msg(m: { seq: number; from: string; text: string; at: number }): {
  seq: number;
  from: string;
  text: string;
  at: number;
} {
  return { seq: m.seq, from: m.from, text: m.text, at: m.at };
}

function certExpiry(pem: string): number {
  try {
    return Date.parse(new X509(pem).validTo);
  } catch {
    return 0;
  }
}
