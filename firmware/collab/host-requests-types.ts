/** Host requests contract (seed steps 1–2): a peer asks a hub to host; the owner's policy answers. */
import type { Startable } from '../core/lifecycle.js';
import type { InboundResult } from './types.js';

export type HostRequestState = 'pending' | 'accepted' | 'declined' | 'expired' | 'failed';
/** auto-contacts: contacts accepted at once, others asked; ask: always the owner; never: declined. */
export type HostPolicy = 'auto-contacts' | 'ask' | 'never';

export interface HostRequest {
  id: string; // 32 hex digits, chosen by the requester
  direction: 'in' | 'out'; // in: we are asked to host; out: we asked
  peer: string;
  appId?: string;
  message: string;
  createdAt: number;
  expiresAt: number;
  state: HostRequestState;
  sessionId?: string;
  reason?: string;
  answeredAt?: number;
}

export interface HostRequestBody {
  id: string;
  appId?: string;
  message: string;
}
/** The host's answer, sent later when the owner decides (or the request expires). */
export interface HostAnswerBody {
  id: string;
  state: 'accepted' | 'declined' | 'expired';
  sessionId?: string;
  reason?: string;
}
/** The reply to a request: final at once (policy), or `pending` (the owner will answer). */
export interface HostRequestReply {
  state: 'pending' | 'accepted' | 'declined' | 'expired';
  sessionId?: string;
  reason?: string;
}
export interface HostRequestOutcome {
  state: 'accepted' | 'declined' | 'expired';
  sessionId?: string;
  reason?: string;
}

export interface HostRequestEvents {
  'host-request:received': { request: HostRequest };
  'host-request:answered': { request: HostRequest }; // accepted, declined or expired, on both sides
}

export interface HostRequestTransport {
  sendHostRequest(peerId: string, body: HostRequestBody): Promise<HostRequestReply>;
  sendHostAnswer(peerId: string, body: HostAnswerBody): Promise<void>;
}

export interface HostRequests extends Startable {
  /** Ask `peerId` to host; resolves with its answer (`expired` when none comes in time). */
  request(
    peerId: string,
    opts: { appId?: string; message?: string; timeoutMs?: number },
  ): Promise<HostRequestOutcome>;
  answer(id: string, answer: 'accepted' | 'declined'): Promise<HostRequest>;
  list(filter?: { direction?: 'in' | 'out'; state?: HostRequestState }): HostRequest[];
  get(id: string): HostRequest;
  policy(): HostPolicy;
  setPolicy(p: HostPolicy): void;
  onHostRequest(fromPeerId: string, body: unknown): Promise<InboundResult<HostRequestReply>>;
  onHostAnswer(fromPeerId: string, body: unknown): Promise<InboundResult<{ state: HostRequestState }>>;
}
