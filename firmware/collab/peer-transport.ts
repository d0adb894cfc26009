/**
 * The client half of the collaboration endpoints: invitations, host requests and member → host session
 * calls over the mutual-TLS peer client. Where a peer is comes from `resolve` (verified People Near Me
 * rows first, then a contact's stored endpoints); an unknown peer is unreachable, which the services
 * retry until their deadline.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import type { PeerTarget, Subscription } from '../wire/types.js';
import type { HostRequestTransport } from './host-requests-types.js';
import { encodeMembership, MEMBERSHIP_HEADER } from './peer-routes.js';
import type { Registration, SessionClient, SessionMessage, SessionSnapshot } from './sessions-types.js';
import type { AnswerReply, InvitationTransport } from './types.js';
import { isPeerhubError } from '../core/errors.js';
import { remoteBody } from '../wire/client.js';

/** The peer client's surface used here (PeerClient implements it). */
export interface PeerRequester {
  request<T = unknown>(
    target: PeerTarget,
    method: string,
    path: string,
    body?: unknown,
    headers?: OutgoingHttpHeaders,
  ): Promise<T>;
  subscribe(
    target: PeerTarget,
    path: string,
    onEvent: (ev: unknown) => void,
    headers?: OutgoingHttpHeaders,
  ): Promise<Subscription>;
}

export interface PeerTransportDeps {
  client: PeerRequester;
  /** Where `peerId`'s peer API is; throws PH_ERR_PEER_UNREACHABLE when nowhere known. */
  resolve(peerId: string): PeerTarget;
  /** This hub's membership chain for a session it joined (throws when not a member). */
  chainFor(sessionId: string): string[];
}

export type CollabTransport = InvitationTransport &
  HostRequestTransport &
  SessionClient & {
    /** Open the member stream of a joined session (messages and notices, NDJSON). */
    attach(host: string, sessionId: string, onLine: (x: unknown) => void): Promise<Subscription>;
  };

const path = (sessionId: string, rest: string): string =>
  `/v1/sessions/${encodeURIComponent(sessionId)}${rest}`;

export function createPeerTransport(deps: PeerTransportDeps): CollabTransport {
  const { client, resolve } = deps;
  const post = <T>(peerId: string, p: string, body: unknown, headers?: OutgoingHttpHeaders): Promise<T> =>
    client.request<T>(resolve(peerId), 'POST', p, body, headers);
  const as = (sessionId: string): OutgoingHttpHeaders => ({
    [MEMBERSHIP_HEADER]: encodeMembership(deps.chainFor(sessionId)),
  });
  return {
    sendInvitation: async (peerId, body) => void (await post(peerId, '/v1/invitations', body)),
    // A refused answer that carries the host's state (already expired or cancelled) is the host's
    // verdict, as `settle` makes it for in-process transports: the invitee adopts it.
    sendAnswer: (peerId, body) =>
      post<AnswerReply>(peerId, '/v1/invitations/answer', body).catch((e: unknown) => {
        const state = (remoteBody(e) as { state?: unknown } | undefined)?.state;
        if (isPeerhubError(e, 'PH_ERR_INVITATION_CLOSED') && typeof state === 'string')
          return { state } as AnswerReply;
        throw e;
      }),
    sendCancel: async (peerId, body) => void (await post(peerId, '/v1/invitations/cancel', body)),
    sendHostRequest: (peerId, body) => post(peerId, '/v1/host-requests', body),
    sendHostAnswer: async (peerId, body) => void (await post(peerId, '/v1/host-requests/answer', body)),

    register: (host, sessionId, publicKeyPem, nickname) =>
      post<Registration>(host, path(sessionId, '/register'), {
        publicKeyPem,
        ...(nickname === undefined ? {} : { nickname }),
      }),
    post: (host, sessionId, text, ref) =>
      post<SessionMessage>(
        host,
        path(sessionId, '/messages'),
        { text, ...(ref === undefined ? {} : { ref }) },
        as(sessionId),
      ),
    catchUp: (host, sessionId, afterSeq) =>
      client.request<SessionMessage[]>(
        resolve(host),
        'GET',
        path(sessionId, `/messages?after=${afterSeq}`),
        undefined,
        as(sessionId),
      ),
    resync: (host, sessionId) =>
      client.request<SessionSnapshot>(
        resolve(host),
        'GET',
        path(sessionId, '/snapshot'),
        undefined,
        as(sessionId),
      ),
    leave: async (host, sessionId) => void (await post(host, path(sessionId, '/leave'), {}, as(sessionId))),
    attach: (host, sessionId, onLine) =>
      client.subscribe(resolve(host), path(sessionId, '/stream'), onLine, as(sessionId)),
  };
}
