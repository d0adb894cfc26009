/**
 * The collaboration endpoints of the peer API (mutual TLS: `req.peer` is the authenticated caller).
 * Invitations and host requests hand their bodies to the services, which validate them field by field
 * and answer `{statusCode, body}`. Session calls after registration carry the caller's membership chain
 * (`x-peerhub-membership`: base64 of a JSON array of PEM certificates, [member cert, host root]); the chain
 * must verify to this session's host and certify the very key the TLS handshake proved.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock, Timer } from '../core/clock.js';
import { PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { shortId } from '../identity/index.js';
import type { HostRequests } from './host-requests-types.js';
import { line, type MemberStreams } from './session-streams.js';
import { verifyMembership } from './sessions-certs.js';
import type { SessionMembership } from './sessions-member.js';
import { SESSION_REF_PATTERN, type SessionHost } from './sessions-types.js';
import type { InboundResult, Invitations } from './types.js';

export const MEMBERSHIP_HEADER = 'x-peerhub-membership';
const HEARTBEAT_MS = 15_000;
const MAX_CHAIN = 4;

export interface CollabPeerDeps {
  logger: Logger;
  clock: Clock;
  invitations: Invitations;
  hostRequests: HostRequests;
  host: SessionHost;
  streams: MemberStreams;
  membership: SessionMembership;
  /** False while the clock is not yet synchronised (chain validation then tolerates it). */
  clockSynchronised(): boolean;
  /** False until the services have loaded their stores: requests meanwhile get 503 PH_ERR_STARTING. */
  ready?(): boolean;
  heartbeatMs?: number;
}

const SessionParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;
const RegisterBody = {
  type: 'object',
  additionalProperties: false,
  required: ['publicKeyPem'],
  properties: {
    publicKeyPem: { type: 'string', minLength: 1, maxLength: 4096 },
    nickname: { type: 'string', maxLength: 64 },
  },
} as const;
const PostBody = {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: {
    text: { type: 'string', minLength: 1, maxLength: 4096 },
    ref: { type: 'string', pattern: SESSION_REF_PATTERN },
  },
} as const;
const AfterQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { after: { type: 'integer', minimum: 0 } },
} as const;

/** Encode a chain for the header. */
export function encodeMembership(chainPem: string[]): string {
  return Buffer.from(JSON.stringify(chainPem)).toString('base64');
}

export function decodeMembership(header: unknown): string[] {
  const bad = (why: string): PeerhubError =>
    new PeerhubError('PH_ERR_SESSION_NOT_MEMBER', `membership certificate ${why}`, { statusCode: 403 });
  if (typeof header !== 'string' || header.length === 0) throw bad(`missing (header ${MEMBERSHIP_HEADER})`);
  let chain: unknown;
  try {
    chain = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    throw bad('header is not base64 JSON');
  }
  if (
    !Array.isArray(chain) ||
    chain.length === 0 ||
    chain.length > MAX_CHAIN ||
    !chain.every((c) => typeof c === 'string' && c.length < 8192)
  ) {
    throw bad('header is not a list of PEM certificates');
  }
  return chain as string[];
}

function send<T>(reply: FastifyReply, r: InboundResult<T>): FastifyReply {
  return reply.code(r.statusCode).send(r.body);
}

export function collabPeerRoutes(app: FastifyInstance, deps: CollabPeerDeps): void {
  const { invitations, hostRequests, host, streams, membership } = deps;
  const log = deps.logger;
  const heartbeatMs = deps.heartbeatMs ?? HEARTBEAT_MS;

  /** The caller as a member of session `id` on this (host) hub. */
  const member = (req: FastifyRequest, id: string): string => {
    const chain = decodeMembership(req.headers[MEMBERSHIP_HEADER]);
    const peer = host.authenticateMember(id, chain);
    if (peer !== req.peer.peerId) {
      throw new PeerhubError(
        'PH_ERR_SESSION_NOT_MEMBER',
        `the membership certificate is ${shortId(peer)}'s, not the caller's`,
        { statusCode: 403 },
      );
    }
    return peer;
  };
  type Id = { Params: { id: string } };
  // Registered on the whole peer API would also gate /v1/card: each collaboration route opts in.
  const preHandler = async (): Promise<void> => {
    if (deps.ready && !deps.ready())
      throw new PeerhubError('PH_ERR_STARTING', 'collaboration is starting: retry shortly', {
        statusCode: 503,
      });
  };

  app.post('/v1/invitations', { preHandler }, async (req, reply) =>
    send(reply, await invitations.onInvitation(req.peer.peerId, req.body)),
  );
  app.post('/v1/invitations/answer', { preHandler }, async (req, reply) =>
    send(reply, await invitations.onAnswer(req.peer.peerId, req.body)),
  );
  app.post('/v1/invitations/cancel', { preHandler }, async (req, reply) =>
    send(reply, await invitations.onCancel(req.peer.peerId, req.body)),
  );
  app.post('/v1/host-requests', { preHandler }, async (req, reply) =>
    send(reply, await hostRequests.onHostRequest(req.peer.peerId, req.body)),
  );
  app.post('/v1/host-requests/answer', { preHandler }, async (req, reply) =>
    send(reply, await hostRequests.onHostAnswer(req.peer.peerId, req.body)),
  );

  app.post<Id & { Body: { publicKeyPem: string; nickname?: string } }>(
    '/v1/sessions/:id/register',
    { preHandler, schema: { params: SessionParams, body: RegisterBody } },
    async (req) => host.register(req.params.id, req.peer.peerId, req.body.publicKeyPem, req.body.nickname),
  );
  app.post<Id & { Body: { text: string; ref?: string } }>(
    '/v1/sessions/:id/messages',
    { preHandler, schema: { params: SessionParams, body: PostBody } },
    async (req) => host.post(req.params.id, member(req, req.params.id), req.body.text, req.body.ref),
  );
  app.get<Id & { Querystring: { after?: number } }>(
    '/v1/sessions/:id/messages',
    { preHandler, schema: { params: SessionParams, querystring: AfterQuery } },
    async (req) => host.catchUp(req.params.id, member(req, req.params.id), req.query.after ?? 0),
  );
  app.get<Id>('/v1/sessions/:id/snapshot', { preHandler, schema: { params: SessionParams } }, async (req) =>
    host.resync(req.params.id, member(req, req.params.id)),
  );
  app.post<Id>('/v1/sessions/:id/leave', { preHandler, schema: { params: SessionParams } }, async (req) => {
    await host.leave(req.params.id, member(req, req.params.id));
    return { state: 'left' };
  });

  // A member's delivery stream: hello (the host's seq and roster), then messages and notices as NDJSON.
  app.get<Id>(
    '/v1/sessions/:id/stream',
    { preHandler, schema: { params: SessionParams } },
    async (req, reply) => {
      const id = req.params.id;
      const peer = member(req, id);
      const s = host.get(id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      const sink = {
        get closed() {
          return res.destroyed || res.writableEnded;
        },
        write: (l: string) => void res.write(l),
        end: () => res.end(),
      };
      let beat: Timer | undefined;
      const tick = (): void => {
        if (sink.closed) return;
        res.write('\n');
        beat = deps.clock.setTimer(heartbeatMs, tick);
      };
      beat = deps.clock.setTimer(heartbeatMs, tick);
      const members = s.members.map((m) => ({
        peerId: m.peerId,
        ...(m.nickname === undefined ? {} : { nickname: m.nickname }),
      }));
      sink.write(line({ type: 'hello', sessionId: id, seq: s.seq, members }));
      const detach = streams.attach(id, peer, sink);
      const close = (): void => {
        beat?.cancel();
        detach();
      };
      req.raw.once('close', close);
      res.once('close', close);
      log.debug({ session: id, peer: shortId(peer) }, 'member stream attached');
    },
  );

  // Member to member: the caller shows its membership of a session this hub joined; we show ours back.
  app.get<Id>('/v1/sessions/:id/member', { preHandler, schema: { params: SessionParams } }, async (req) => {
    const mine = membership.get(req.params.id);
    const v = verifyMembership(decodeMembership(req.headers[MEMBERSHIP_HEADER]), {
      now: deps.clock.now(),
      hostPeerId: mine.hostPeerId,
      sessionId: mine.id,
      clockSynchronised: deps.clockSynchronised(),
    });
    if (v.leafPeerId !== req.peer.peerId) {
      throw new PeerhubError('PH_ERR_SESSION_NOT_MEMBER', 'the membership certificate is not the caller’s', {
        statusCode: 403,
      });
    }
    return { sessionId: mine.id, peerId: v.leafPeerId, chainPem: mine.chainPem };
  });
}
