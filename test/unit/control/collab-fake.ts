import { PeerhubError } from '../../../firmware/core/errors.js';
import type {
  AcceptView,
  CollabControl,
  HostRequestResult,
  HostRequestView,
  InvitationView,
  InviteRequest,
  PolicyPatch,
  PolicyView,
  SessionDetail,
  SessionView,
} from '../../../firmware/control/collab-types.js';

/** This hub (as fake-agent.ts) and two hubs near it. */
export const ME = 'AAAAAAA-BBBBBBB';
export const ATTIC = 'CCCCCCC-DDDDDDD';
export const CELLAR = 'EEEEEEE-FFFFFFF';
const NAMES: Record<string, string> = { [ME]: 'Kitchen', [ATTIC]: 'Attic', [CELLAR]: 'Cellar' };

/** Seeded records: Attic invited this hub to its session; Cellar asks this hub to host. */
export const IN_INVITATION = 'a1'.repeat(16);
export const IN_SESSION = 'b2'.repeat(16);
export const IN_HOST_REQUEST = 'c3'.repeat(16);

export type Method = keyof CollabControl;
export interface Call {
  method: Method;
  args: unknown[];
}

export interface FakeCollab extends CollabControl {
  /** Every call, in order, with its arguments as received. */
  calls: Call[];
  /** The next call of `method` throws `err` (once), before doing anything. */
  failNext(method: Method, err: PeerhubError): void;
  /** How the hosts this hub asks answer (`hostRequest`). */
  hostOutcome: { state: HostRequestResult['state']; reason?: string };
  readonly invitationsById: Map<string, InvitationView>;
  readonly sessionsById: Map<string, SessionDetail>;
  readonly hostRequestsById: Map<string, HostRequestView>;
  policyState: PolicyView;
}

const notFound = (code: 'PH_ERR_INVITATION_NOT_FOUND' | 'PH_ERR_SESSION_NOT_FOUND', id: string) =>
  new PeerhubError(code, `${code === 'PH_ERR_SESSION_NOT_FOUND' ? 'no session' : 'no invitation'} ${id}`, {
    statusCode: 404,
  });

/**
 * An in-memory CollabControl for the control API and CLI tests: plausible state changes (no network, no
 * timers), every call recorded, any call made to fail once with a chosen PeerhubError.
 */
export function collabFake(): FakeCollab {
  let n = 0;
  const newId = (): string => (++n).toString(16).padStart(32, '0');
  const failures = new Map<Method, PeerhubError>();
  const invitations = new Map<string, InvitationView>();
  const sessions = new Map<string, SessionDetail>();
  const hostRequests = new Map<string, HostRequestView>();
  const now = Date.now();

  const record = (method: Method, args: unknown[]): void => {
    fake.calls.push({ method, args });
    const err = failures.get(method);
    if (err) {
      failures.delete(method);
      throw err;
    }
  };
  const peer = (ref: string): string => {
    const id = Object.keys(NAMES).find((k) => k === ref || NAMES[k]!.toLowerCase() === ref.toLowerCase());
    if (!id || id === ME)
      throw new PeerhubError('PH_ERR_NOT_FOUND', `no peer near me matches "${ref}"`, { statusCode: 404 });
    return id;
  };
  const name = (id: string): string => NAMES[id] ?? id.split('-')[0]!;
  const member = (id: string) => ({ id, name: name(id) });
  const invitation = (id: string): InvitationView => {
    const i = invitations.get(id);
    if (!i) throw notFound('PH_ERR_INVITATION_NOT_FOUND', id);
    return i;
  };
  const pending = (i: InvitationView, direction: 'in' | 'out'): void => {
    if (i.direction !== direction || i.state !== 'pending')
      throw new PeerhubError('PH_ERR_INVITATION_CLOSED', `invitation ${i.id} is ${i.state}`, {
        statusCode: 409,
      });
  };
  const session = (id: string): SessionDetail => {
    const s = sessions.get(id);
    if (!s) throw notFound('PH_ERR_SESSION_NOT_FOUND', id);
    return s;
  };
  const summary = (s: SessionDetail): SessionView => {
    const { messages: _messages, ...v } = s;
    return structuredClone(v);
  };
  const hosted = (appId?: string): SessionDetail => {
    const s: SessionDetail = {
      id: newId(),
      host: ME,
      role: 'host',
      state: 'open',
      ...(appId !== undefined && { appId }),
      seq: 0,
      members: [],
      invitations: { accepted: [], declined: [], noResponse: [], failed: [] },
      messages: [],
    };
    sessions.set(s.id, s);
    return s;
  };
  const open = (s: SessionDetail): void => {
    if (s.state !== 'open' && s.state !== 'joined')
      throw new PeerhubError('PH_ERR_SESSION_ENDED', `session ${s.id} is ${s.state}`, { statusCode: 409 });
  };

  sessions.set(IN_SESSION, {
    id: IN_SESSION,
    host: ATTIC,
    role: 'member',
    state: 'joined',
    appId: 'chess',
    seq: 2,
    members: [member(ATTIC), member(ME)],
    messages: [
      { seq: 1, from: ATTIC, text: 'welcome', at: now - 2000 },
      { seq: 2, from: ME, text: 'hello', at: now - 1000 },
    ],
  });
  invitations.set(IN_INVITATION, {
    id: IN_INVITATION,
    session: IN_SESSION,
    peer: ATTIC,
    name: 'Attic',
    direction: 'in',
    state: 'pending',
    appId: 'chess',
    message: 'a game?',
    data: '',
    createdAt: now - 5000,
    expiresAt: now + 300_000,
    delivery: 'delivered',
  });
  hostRequests.set(IN_HOST_REQUEST, {
    id: IN_HOST_REQUEST,
    direction: 'in',
    peer: CELLAR,
    name: 'Cellar',
    message: 'host us?',
    state: 'pending',
    createdAt: now - 1000,
    expiresAt: now + 300_000,
  });

  const fake: FakeCollab = {
    calls: [],
    failNext: (method, err) => void failures.set(method, err),
    hostOutcome: { state: 'accepted' },
    invitationsById: invitations,
    sessionsById: sessions,
    hostRequestsById: hostRequests,
    policyState: { invite: { mode: 'contacts' }, host: 'auto-contacts', contactsOnActivity: 'add' },

    async hostRequest(ref, opts) {
      record('hostRequest', [ref, opts]);
      const id = newId();
      const to = peer(ref);
      const { state, reason } = fake.hostOutcome;
      let sessionId: string | undefined;
      if (state === 'accepted') {
        sessionId = newId();
        sessions.set(sessionId, {
          id: sessionId,
          host: to,
          role: 'member',
          state: 'joined',
          seq: 0,
          members: [member(to), member(ME)],
          messages: [],
        });
      }
      hostRequests.set(id, {
        id,
        direction: 'out',
        peer: to,
        name: name(to),
        message: opts.message ?? '',
        ...(opts.appId !== undefined && { appId: opts.appId }),
        state,
        ...(sessionId !== undefined && { session: sessionId }),
        ...(reason !== undefined && { reason }),
        createdAt: Date.now(),
        expiresAt: Date.now() + (opts.timeoutMs ?? 310_000),
        answeredAt: Date.now(),
      });
      return {
        id,
        peer: to,
        state,
        ...(sessionId !== undefined && { session: sessionId }),
        ...(reason !== undefined && { reason }),
      };
    },
    hostRequests(filter) {
      record('hostRequests', [filter]);
      return [...hostRequests.values()].filter(
        (r) =>
          (!filter?.direction || r.direction === filter.direction) &&
          (!filter?.state || r.state === filter.state),
      );
    },
    async answerHostRequest(id, answer) {
      record('answerHostRequest', [id, answer]);
      const r = hostRequests.get(id);
      if (!r)
        throw new PeerhubError('PH_ERR_HOST_REQUEST_NOT_FOUND', `no host request ${id}`, { statusCode: 404 });
      if (r.direction !== 'in' || r.state !== 'pending')
        throw new PeerhubError('PH_ERR_HOST_REQUEST_CLOSED', `host request ${id} is ${r.state}`, {
          statusCode: 409,
        });
      r.state = answer;
      r.answeredAt = Date.now();
      if (answer === 'accepted') r.session = hosted(r.appId).id;
      return structuredClone(r);
    },

    async invite(req: InviteRequest) {
      record('invite', [req]);
      const peers = req.peers.map(peer);
      let s: SessionDetail;
      if (req.session !== undefined) {
        s = session(req.session);
        if (s.role !== 'host') throw notFound('PH_ERR_SESSION_NOT_FOUND', req.session);
        open(s);
      } else s = hosted(req.appId);
      const made = peers.map((p): InvitationView => {
        const i: InvitationView = {
          id: newId(),
          session: s.id,
          peer: p,
          name: name(p),
          direction: 'out',
          state: 'pending',
          ...((req.appId ?? s.appId) !== undefined && { appId: req.appId ?? s.appId }),
          message: req.message ?? '',
          data: req.data ?? '',
          createdAt: Date.now(),
          expiresAt: Date.now() + (req.expiresInMs ?? 300_000),
          delivery: 'sending',
        };
        invitations.set(i.id, i);
        s.invitations?.noResponse.push(p);
        return i;
      });
      return { session: s.id, invitations: structuredClone(made) };
    },
    invitations(filter) {
      record('invitations', [filter]);
      return [...invitations.values()].filter(
        (i) =>
          (!filter?.direction || i.direction === filter.direction) &&
          (!filter?.state || i.state === filter.state) &&
          (!filter?.session || i.session === filter.session),
      );
    },
    invitation(id) {
      record('invitation', [id]);
      return invitation(id);
    },
    async accept(id) {
      record('accept', [id]);
      const i = invitation(id);
      pending(i, 'in');
      i.state = 'accepted';
      i.answeredAt = Date.now();
      const s = sessions.get(i.session);
      const view: AcceptView = { ...structuredClone(i), joined: s !== undefined };
      if (!s) view.joinError = 'host unreachable';
      if (i.appId !== undefined) view.launched = { appId: i.appId, pid: 4242 };
      return view;
    },
    async decline(id) {
      record('decline', [id]);
      const i = invitation(id);
      pending(i, 'in');
      i.state = 'declined';
      i.answeredAt = Date.now();
      return structuredClone(i);
    },
    async cancel(id) {
      record('cancel', [id]);
      const i = invitation(id);
      pending(i, 'out');
      i.state = 'cancelled';
      i.reason = 'cancelled by the host';
      return structuredClone(i);
    },
    async cancelNoResponse(sessionId) {
      record('cancelNoResponse', [sessionId]);
      session(sessionId);
      const out = [...invitations.values()].filter(
        (i) => i.session === sessionId && i.direction === 'out' && i.state === 'pending',
      );
      for (const i of out) {
        i.state = 'cancelled';
        i.reason = 'no response';
      }
      return structuredClone(out);
    },

    sessions() {
      record('sessions', []);
      return [...sessions.values()].map(summary);
    },
    session(id) {
      record('session', [id]);
      return structuredClone(session(id));
    },
    async createSession(opts) {
      record('createSession', [opts]);
      return summary(hosted(opts?.appId));
    },
    async send(id, text) {
      record('send', [id, text]);
      const s = session(id);
      open(s);
      const m = { seq: ++s.seq, from: ME, text, at: Date.now() };
      s.messages.push(m);
      return { ...m };
    },
    async leave(id) {
      record('leave', [id]);
      const s = session(id);
      if (s.role !== 'member')
        throw new PeerhubError('PH_ERR_BAD_REQUEST', 'the host ends its session, it does not leave', {
          statusCode: 400,
        });
      s.state = 'left';
      return summary(s);
    },
    async end(id) {
      record('end', [id]);
      const s = session(id);
      if (s.role !== 'host') throw notFound('PH_ERR_SESSION_NOT_FOUND', id);
      s.state = 'ended';
      return summary(s);
    },
    async removeMember(id, ref) {
      record('removeMember', [id, ref]);
      const s = session(id);
      const p = peer(ref);
      if (s.role !== 'host' || !s.members.some((m) => m.id === p))
        throw new PeerhubError('PH_ERR_SESSION_NOT_MEMBER', `${ref} is not a member of ${id}`, {
          statusCode: 404,
        });
      s.members = s.members.filter((m) => m.id !== p);
      return summary(s);
    },

    policy() {
      record('policy', []);
      return structuredClone(fake.policyState);
    },
    async setPolicy(patch: PolicyPatch) {
      record('setPolicy', [patch]);
      const p = fake.policyState;
      if (patch.invite) {
        p.invite =
          patch.invite.mode === 'nearby'
            ? { mode: 'nearby', until: Date.now() + (patch.invite.minutes ?? 10) * 60_000 }
            : { mode: patch.invite.mode };
      }
      if (patch.host) p.host = patch.host;
      if (patch.contactsOnActivity) p.contactsOnActivity = patch.contactsOnActivity;
      return structuredClone(p);
    },
  };
  return fake;
}
