import type { IncomingMessage } from 'node:http';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { BusEvent } from '../core/bus.js';
import type { Timer } from '../core/clock.js';
import { PeerhubError, type ErrorCode } from '../core/errors.js';
import { schemaController } from '../core/lazy-schemas.js';
import { DEFAULT_RATE_LIMIT, TokenBuckets, type RateLimit } from './limits.js';
import { ApplicationsBody, CardBody, EventsQuery, ObjectsBody, PresenceBody, responses } from './schemas.js';
import type { PeerApiDeps, PeerAuth } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller (set before any handler runs). */
    peer: PeerAuth;
  }
}

export const BODY_LIMIT = 64 * 1024;
export const EVENT_HEARTBEAT_MS = 15_000;
/** Bus event types a subscriber may see; everything else on the bus stays local. */
export const PEER_EVENT_TYPES = ['presence:changed', 'application:changed', 'object:changed'];

export interface PeerApiInit {
  bodyLimit?: number;
  rateLimit?: RateLimit;
  /** Blank line on an idle event stream, below the server's idle time-out. */
  heartbeatMs?: number;
  eventTypes?: string[];
  /** Extra routes (the collaboration issue's endpoints), registered with the same limits. */
  routes?: (app: FastifyInstance) => void;
  /** Tests: compile every route schema at `ready()` (fastify's default) instead of on first use. */
  eagerSchemas?: boolean;
}

/** Where requests come from: the caller's identity, and (when listening) the HTTP/2 server. */
export interface PeerApiTransport {
  identify(raw: IncomingMessage | Http2ServerRequest): PeerAuth | undefined;
  server?: Http2SecureServer;
}

function fail(reply: FastifyReply, code: ErrorCode, statusCode: number, message?: string): FastifyReply {
  return reply.code(statusCode).send(new PeerhubError(code, message, { statusCode }).toJSON());
}

/**
 * The peer API (fastify; a factory kept apart from `listen`, tested with `inject`). server.ts hands it
 * an HTTP/2 secure server whose sessions are already authenticated.
 */
export function buildPeerApi(
  deps: PeerApiDeps,
  init: PeerApiInit,
  transport: PeerApiTransport,
): FastifyInstance {
  const server = transport.server;
  const options = {
    logger: false,
    bodyLimit: init.bodyLimit ?? BODY_LIMIT,
    ajv: { customOptions: { removeAdditional: false } },
    // Route schemas compile on a route's first request (start-up CPU; core/lazy-schemas.ts).
    schemaController: schemaController(init.eagerSchemas),
    ...(server
      ? {
          http2: true,
          serverFactory: (handler: (req: Http2ServerRequest, res: Http2ServerResponse) => void) => {
            server.on('request', handler);
            return server;
          },
        }
      : {}),
  };
  // fastify's types pick the server type from the options; ours is decided at run time.
  const app = (Fastify as unknown as (o: typeof options) => FastifyInstance)(options);
  const buckets = new TokenBuckets(init.rateLimit ?? DEFAULT_RATE_LIMIT);
  const types = new Set(init.eventTypes ?? PEER_EVENT_TYPES);
  const heartbeatMs = init.heartbeatMs ?? EVENT_HEARTBEAT_MS;
  const log = deps.logger;

  app.decorateRequest('peer', null as unknown as PeerAuth);
  app.addHook('onRequest', async (req, reply) => {
    const peer = transport.identify(req.raw);
    if (!peer) return fail(reply, 'PH_ERR_UNAUTHENTICATED', 401);
    req.peer = peer;
    if (!buckets.take(peer.peerId, deps.clock.now())) {
      reply.header('retry-after', String(buckets.retryAfter(peer.peerId)));
      return fail(reply, 'PH_ERR_RATE_LIMITED', 429);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    // fastify asks HTTP/1 to close after a body error; HTTP/2 forbids the header (the stream ends anyway).
    if (server) reply.removeHeader('connection');
    if (err instanceof PeerhubError) return reply.code(err.statusCode).send(err.toJSON());
    const e = err as { validation?: unknown; statusCode?: number; message: string; code?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return fail(reply, 'PH_ERR_BODY_TOO_LARGE', 413, e.message);
    if (e.validation || (e.statusCode && e.statusCode < 500)) {
      return fail(reply, 'PH_ERR_BAD_REQUEST', e.statusCode ?? 400, e.message);
    }
    log.error({ err: e.message, peer: req.peer?.peerId, url: req.url }, 'peer request failed');
    return fail(reply, 'PH_ERR_INTERNAL', 500, 'internal error');
  });
  app.setNotFoundHandler((req, reply) =>
    fail(reply, 'PH_ERR_NOT_FOUND', 404, `no route ${req.method} ${req.url}`),
  );

  app.get('/v1/card', { schema: { response: responses(CardBody) } }, async () => deps.card());
  app.get('/v1/presence', { schema: { response: responses(PresenceBody) } }, async () => deps.presence());
  app.get('/v1/applications', { schema: { response: responses(ApplicationsBody) } }, async (req) =>
    deps.applications(req.peer.peerId),
  );
  app.get('/v1/objects', { schema: { response: responses(ObjectsBody) } }, async (req) =>
    deps.objects(req.peer.peerId),
  );

  // Event stream for subscribers: NDJSON on one HTTP/2 stream; `since` replays the buffered history.
  app.get('/v1/events', { schema: { querystring: EventsQuery } }, async (req, reply) => {
    if (!(await deps.authorizeSubscriber(req.peer.peerId))) {
      return fail(reply, 'PH_ERR_FORBIDDEN', 403, 'subscription not allowed for this peer');
    }
    const since = (req.query as { since?: number }).since ?? deps.events.lastId;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    let last = since;
    const write = (ev: BusEvent): void => {
      if (ev.id <= last || !types.has(ev.type)) return;
      last = ev.id;
      res.write(JSON.stringify(ev) + '\n');
    };
    for (const ev of deps.events.since(since)) write(ev);
    const off = deps.events.onAny(write);
    let beat: Timer | undefined;
    const tick = (): void => {
      if (res.destroyed || res.writableEnded) return;
      res.write('\n');
      beat = deps.clock.setTimer(heartbeatMs, tick);
    };
    beat = deps.clock.setTimer(heartbeatMs, tick);
    const close = (): void => {
      beat?.cancel();
      off();
    };
    req.raw.once('close', close);
    res.once('close', close);
    log.debug({ peer: req.peer.peerId, since }, 'subscriber attached');
  });

  init.routes?.(app);
  return app;
}
