/**
 * The collaboration actions a user can take (issue 4 "CLI and control API"): host requests,
 * invitations, sessions, policy. The agent implements this (firmware/collab/control.ts); the control
 * API routes call it; the CLI prints what they answer. Interfaces only.
 */
import type { HostPolicy, HostRequestState } from '../collab/host-requests-types.js';
import type { InviteMode } from '../collab/policy.js';
import type { InvitationState, Tally } from '../collab/types.js';

/** A peer named by the user: a peer id (any accepted spelling), a contact's nickname or a nearby hub's. */
export type PeerRef = string;

/** `invitations --json` rows. */
export interface InvitationView {
  id: string;
  session: string;
  /** The other side's peer id (inviter for "in", invitee for "out"). */
  peer: string;
  /** Nickname of the other side when known (contact or nearby), else its short id. */
  name: string;
  direction: 'in' | 'out';
  state: InvitationState;
  appId?: string;
  message: string;
  /** base64, ≤ 16 KB decoded. */
  data: string;
  createdAt: number;
  expiresAt: number;
  answeredAt?: number;
  reason?: string;
  /** Delivery of this hub's latest message for it (the invitation, our answer, our cancel). */
  delivery: 'sending' | 'delivered' | 'undeliverable';
}

/** What `accept` answers: the invitation and, for an accepted one, joining the host's session. */
export interface AcceptView extends InvitationView {
  joined: boolean;
  /** Why joining (registering with the host) failed, when it did; the answer itself stands. */
  joinError?: string;
  /** The launched application, when the invitation named one registered here. */
  launched?: { appId: string; pid?: number; error?: string };
}

export interface HostRequestView {
  id: string;
  direction: 'in' | 'out';
  peer: string;
  name: string;
  appId?: string;
  message: string;
  state: HostRequestState;
  session?: string;
  reason?: string;
  createdAt: number;
  expiresAt: number;
  answeredAt?: number;
}

/** `host request --json`: the host's answer. */
export interface HostRequestResult {
  id: string;
  peer: string;
  state: 'accepted' | 'declined' | 'expired';
  session?: string;
  reason?: string;
}

export interface SessionMemberView {
  id: string;
  name: string;
  /** Host side: registration time and whether its stream is attached. */
  registeredAt?: number;
  connected?: boolean;
}

/** `session list --json` rows. */
export interface SessionView {
  id: string;
  /** The host's peer id (this hub's for sessions it hosts). */
  host: string;
  role: 'host' | 'member';
  /** host: open|ended; member: joined|left|ended|host-lost. */
  state: string;
  appId?: string;
  seq: number;
  members: SessionMemberView[];
  /** Host side: how its invitations for this session stand. */
  invitations?: Tally;
  /** Member side: the membership certificate the host issued (PEM; chain = [cert, host root]). */
  membership?: { certPem: string; chainPem: string[]; expiresAt: number };
}

/** `session show <id> --json`. */
export interface SessionDetail extends SessionView {
  messages: Array<{ seq: number; from: string; text: string; at: number }>;
}

export interface PolicyView {
  /** Who may invite this hub. */
  invite: InviteMode;
  /** How host requests from other hubs are answered. */
  host: HostPolicy;
  /** Seed step 7: add a session's remote members to contacts on their first activity. */
  contactsOnActivity: 'add' | 'never';
}
export interface PolicyPatch {
  /** `nearby` takes `minutes` (default 10, at most 60). */
  invite?: { mode: 'contacts' | 'nobody' } | { mode: 'nearby'; minutes?: number };
  host?: HostPolicy;
  contactsOnActivity?: 'add' | 'never';
}

export interface InviteRequest {
  peers: PeerRef[];
  /** An open session this hub hosts; when absent a new session is created. */
  session?: string;
  appId?: string;
  message?: string;
  data?: string;
  expiresInMs?: number;
}

export interface CollabControl {
  hostRequest(
    peer: PeerRef,
    opts: { appId?: string; message?: string; timeoutMs?: number },
  ): Promise<HostRequestResult>;
  hostRequests(filter?: { direction?: 'in' | 'out'; state?: HostRequestState }): HostRequestView[];
  /** The owner answers a pending host request (policy "ask"). */
  answerHostRequest(id: string, answer: 'accepted' | 'declined'): Promise<HostRequestView>;

  invite(req: InviteRequest): Promise<{ session: string; invitations: InvitationView[] }>;
  invitations(filter?: {
    direction?: 'in' | 'out';
    state?: InvitationState;
    session?: string;
  }): InvitationView[];
  invitation(id: string): InvitationView;
  accept(id: string): Promise<AcceptView>;
  decline(id: string): Promise<InvitationView>;
  cancel(id: string): Promise<InvitationView>;
  /** Cancel every invitation of a session still without an answer. */
  cancelNoResponse(session: string): Promise<InvitationView[]>;

  sessions(): SessionView[];
  session(id: string): SessionDetail;
  createSession(opts?: { appId?: string }): Promise<SessionView>;
  send(session: string, text: string): Promise<{ seq: number; from: string; text: string; at: number }>;
  leave(session: string): Promise<SessionView>;
  end(session: string): Promise<SessionView>;
  removeMember(session: string, peer: PeerRef): Promise<SessionView>;

  policy(): PolicyView;
  setPolicy(patch: PolicyPatch): Promise<PolicyView>;
}
