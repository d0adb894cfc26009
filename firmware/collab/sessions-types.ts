/** Sessions contract (issue 4 "Sessions"): the host's roster and relay, the member's ordered view. */
import type { Startable } from '../core/lifecycle.js';

export type SessionState = 'open' | 'ended';
export type JoinedState = 'joined' | 'left' | 'ended' | 'host-lost';

/** One relayed message; `seq` is the host's order, the same for every member. */
export interface SessionMessage {
  sessionId: string;
  seq: number;
  from: string;
  text: string;
  at: number;
  /**
   * The sender's idempotency key (SESSION_REF_PATTERN): a post sent again with the same key, after its
   * answer was lost, gets the message already sequenced instead of a copy.
   */
  ref?: string;
}

/** A post's idempotency key: 8–64 URL-safe base64 characters. */
export const SESSION_REF_PATTERN = '^[A-Za-z0-9_-]{8,64}$';

export interface SessionMember {
  peerId: string;
  nickname?: string;
  registeredAt: number;
  certPem: string;
  connected: boolean;
  lastAckSeq: number;
}

/** A roster change the host pushes to members (messages travel through `deliver`). */
export type SessionNotice =
  | { type: 'member-joined'; sessionId: string; peerId: string; nickname?: string; at: number }
  | { type: 'member-left'; sessionId: string; peerId: string; reason: 'left' | 'removed'; at: number }
  | { type: 'ended'; sessionId: string; at: number };

export interface Registration {
  certPem: string;
  /** [member certificate, host root]. */
  chainPem: string[];
  /** The host's current seq: the member's view starts after it. */
  seq: number;
  members: Array<{ peerId: string; nickname?: string }>;
}

export interface SessionSnapshot {
  seq: number;
  messages: SessionMessage[];
}

export interface SessionEvents {
  'session:created': { sessionId: string; hostPeerId: string; appId?: string };
  'session:member-joined': { sessionId: string; peerId: string; nickname?: string };
  'session:member-left': { sessionId: string; peerId: string; reason: 'left' | 'removed' };
  'session:message': SessionMessage;
  'session:ended': { sessionId: string };
  'session:host-lost': { sessionId: string; hostPeerId: string; reason: string };
  /** Member side: messages after `lostAfter` up to `lostUntil` fell out of the host's backlog. */
  'session:resynced': { sessionId: string; lostAfter: number; lostUntil: number };
}

/** Host → member pushes (the peer API client, later). Rejects when the member is unreachable. */
export interface SessionTransport {
  deliver(peerId: string, message: SessionMessage): Promise<void>;
  notify(peerId: string, notice: SessionNotice): Promise<void>;
}

/** Member → host calls (the peer API client, later). Errors keep the host's PeerhubError code. */
export interface SessionClient {
  register(host: string, sessionId: string, publicKeyPem: string, nickname?: string): Promise<Registration>;
  post(host: string, sessionId: string, text: string, ref?: string): Promise<SessionMessage>;
  catchUp(host: string, sessionId: string, afterSeq: number): Promise<SessionMessage[]>;
  resync(host: string, sessionId: string): Promise<SessionSnapshot>;
  leave(host: string, sessionId: string): Promise<void>;
}

export interface SessionView {
  id: string;
  hostPeerId: string;
  appId?: string;
  createdAt: number;
  state: SessionState;
  seq: number;
  members: SessionMember[];
}

export interface SessionHost extends Startable {
  create(opts?: { appId?: string }): Promise<SessionView>;
  register(sessionId: string, peerId: string, publicKeyPem: string, nickname?: string): Promise<Registration>;
  post(sessionId: string, from: string, text: string, ref?: string): Promise<SessionMessage>;
  catchUp(sessionId: string, peerId: string, afterSeq: number): SessionMessage[];
  resync(sessionId: string, peerId: string): SessionSnapshot;
  leave(sessionId: string, peerId: string): Promise<void>;
  remove(sessionId: string, peerId: string): Promise<void>;
  end(sessionId: string): Promise<void>;
  roster(sessionId: string): SessionMember[];
  /** When `peerId` was removed from the session (undefined: never). */
  removedAt(sessionId: string, peerId: string): number | undefined;
  get(sessionId: string): SessionView & { messages: SessionMessage[] };
  list(): SessionView[];
  /** Verifies a membership chain for this session and roster; returns the member's peer id. */
  authenticateMember(sessionId: string, chainPem: string[]): string;
  /** Resolves when the deliveries in flight have settled. */
  settled(): Promise<void>;
}
