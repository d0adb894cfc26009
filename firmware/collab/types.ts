/** Invitations contract (issue 4 "Invitations"): records, events, wire bodies, transport. Interfaces only. */
import type { Startable } from '../core/lifecycle.js';
import type { ErrorCode } from '../core/errors.js';

export type InvitationState = 'pending' | 'accepted' | 'declined' | 'expired' | 'cancelled' | 'failed';
export type Answer = 'accepted' | 'declined';
/** Delivery of our latest message for the record: the invitation (out), our cancel (out), our answer (in). */
export type Delivery = 'sending' | 'delivered' | 'undeliverable';

export interface Invitation {
  id: string; // 32 hex digits (128 random bits), chosen by the host
  sessionId: string;
  direction: 'out' | 'in';
  peer: string; // the other side's peer id (canonical)
  appId?: string;
  message: string; // ≤ 255 characters
  data: string; // base64, ≤ 16 KB decoded
  createdAt: number;
  expiresAt: number; // on this hub's clock
  state: InvitationState;
  reason?: string;
  answeredAt?: number;
  delivery: Delivery;
}

type Fact = { invitation: Invitation };
export interface InvitationEvents {
  'invitation:received': Fact;
  'invitation:sent': Fact; // the invitee's hub acknowledged it
  'invitation:answered': Fact; // accepted or declined (host: answer received; invitee: owner answered)
  'invitation:expired': Fact;
  'invitation:cancelled': Fact;
  'invitation:failed': Fact;
}

/** Wire bodies (peer API). Expiry travels as time left, so the two clocks need not agree. */
export interface InvitationBody {
  id: string;
  sessionId: string;
  appId?: string;
  message: string;
  data?: string;
  expiresInMs: number;
}
export interface AnswerBody {
  id: string;
  answer: Answer;
}
export interface CancelBody {
  id: string;
}
/** The host's final word on an answer: the state it recorded (accepted/declined, or why it refused). */
export interface AnswerReply {
  state: InvitationState;
}

/** Backed by the mutual-TLS peer API. Rejects when not delivered (a PeerhubError code says if final). */
export interface InvitationTransport {
  sendInvitation(peerId: string, body: InvitationBody): Promise<void>;
  sendAnswer(peerId: string, body: AnswerBody): Promise<AnswerReply>;
  sendCancel(peerId: string, body: CancelBody): Promise<void>;
}

export interface RefusalBody {
  code: ErrorCode;
  message: string;
  statusCode: number;
  state?: InvitationState;
}
/** What an inbound handler returns for the route to send. */
export type InboundResult<T> =
  { ok: true; statusCode: 200; body: T } | { ok: false; statusCode: number; body: RefusalBody };

/** May `peerId` invite this hub now? null = yes; otherwise the refusal. */
export interface InvitePolicy {
  check(peerId: string): { code: ErrorCode; message: string } | null;
}

export interface InviteOptions {
  sessionId: string;
  appId?: string;
  message: string;
  data?: string;
  expiresInMs?: number;
}
export interface InvitationFilter {
  direction?: 'out' | 'in';
  state?: InvitationState;
  sessionId?: string;
  peer?: string;
}
export interface Tally {
  accepted: string[];
  declined: string[];
  noResponse: string[]; // pending, expired, or cancelled without an answer
  failed: string[];
}

export interface Invitations extends Startable {
  invite(peers: string[], opts: InviteOptions): Promise<Invitation[]>;
  answer(id: string, answer: Answer): Promise<Invitation>;
  cancel(id: string): Promise<Invitation>;
  cancelNoResponse(sessionId: string): Promise<Invitation[]>;
  list(filter?: InvitationFilter): Invitation[];
  get(id: string): Invitation;
  tally(sessionId: string): Tally;
  onInvitation(fromPeerId: string, body: unknown): Promise<InboundResult<{ state: InvitationState }>>;
  onAnswer(fromPeerId: string, body: unknown): Promise<InboundResult<AnswerReply>>;
  onCancel(fromPeerId: string, body: unknown): Promise<InboundResult<{ state: InvitationState }>>;
  /** Resolves when nothing is being written, sent or answered (tests, orderly shutdown). */
  idle(): Promise<void>;
  /**
   * Resolves as soon as none of `ids` is still being delivered (delivered, undeliverable, gone), or
   * after `ms` at most: what a control call waits for before it answers.
   */
  delivered(ids: string[], ms: number): Promise<void>;
}
