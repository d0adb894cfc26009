import Fastify, { type FastifyInstance } from 'fastify';
import { PeerhubError } from '../core/errors.js';
import { schemaController } from '../core/lazy-schemas.js';
import { PRESENCE_STATES, SCOPES } from '../presence/types.js';
import { collabRoutes } from './collab-routes.js';
import { contactsRoutes } from './contacts-routes.js';
import { collaborationRoutes } from './session-routes.js';
import { panelRoutes } from './panel-routes.js';
import type { ControlDeps } from './types.js';

const Status = { type: 'string', enum: [...PRESENCE_STATES] } as const;
const SignInScope = { type: 'string', enum: SCOPES.filter((s) => s !== 'None') } as const;

export const PresenceBody = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: Status, text: { type: 'string', maxLength: 255 } },
} as const;
export const SignInBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { scope: SignInScope },
} as const;
const EventsQuery = {
  type: 'object',
  properties: { since: { type: 'integer', minimum: 0 }, follow: { type: 'boolean' } },
} as const;

const HEARTBEAT_MS = 15_000;

/**
 * Slow local clients (slowloris on the Unix socket): request headers must arrive within
 * `headersTimeoutMs` and the whole request (body included) within `requestTimeoutMs` — fastify's
 * default leaves the body without any limit, so a client trickling a body held its connection and file
 * descriptor forever. Node checks both every `checkIntervalMs`. Connections beyond `maxConnections` are
 * refused. Responses are not limited: `/v1/events` streams stay open (their request is complete).
 */
export const CONTROL_LIMITS = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 30_000,
  checkIntervalMs: 5_000,
  maxConnections: 256,
};

/**
 * The control API (HTTP/JSON on a Unix socket). A factory kept apart from `listen`, tested with `inject`
 * (fastify Testing guide). Only agent.ts listens.
 */
export function buildControlApi(
  deps: ControlDeps,
  limits: Partial<typeof CONTROL_LIMITS> = {},
  options: { eagerSchemas?: boolean } = {},
): FastifyInstance {
  const l = { ...CONTROL_LIMITS, ...limits };
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    requestTimeout: l.requestTimeoutMs,
    http: { headersTimeout: l.headersTimeoutMs, connectionsCheckingInterval: l.checkIntervalMs },
    forceCloseConnections: true,
    // Path parameters up to the longest the route schemas accept (peer refs: 200); longer ones get 414.
    routerOptions: { maxParamLength: 200 },
    // Unknown fields are an error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
    // Route schemas compile on a route's first request (start-up CPU; core/lazy-schemas.ts).
    schemaController: schemaController(options.eagerSchemas),
  });

  app.server.maxConnections = l.maxConnections;

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof PeerhubError) return reply.code(err.statusCode).send(err.toJSON());
    const e = err as { validation?: unknown; statusCode?: number; message: string; code?: string };
    if (e.validation || (e.statusCode && e.statusCode < 500)) {
      const statusCode = e.statusCode ?? 400;
      return reply.code(statusCode).send({ code: 'PH_ERR_BAD_REQUEST', message: e.message, statusCode });
    }
    deps.logger.error({ err: e.message }, 'control request failed');
    return reply.code(500).send({ code: 'PH_ERR_INTERNAL', message: e.message, statusCode: 500 });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ code: 'PH_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url}`, statusCode: 404 }),
  );

  app.get('/v1/status', async () => deps.status());
  app.get('/v1/peers', async () => deps.peers());
  app.get('/v1/presence', async () => deps.status().presence);
  app.put('/v1/presence', { schema: { body: PresenceBody } }, async (req) => {
    const body = req.body as { status: (typeof PRESENCE_STATES)[number]; text?: string };
    return deps.setPresence(body.status, body.text);
  });
  // The body is optional (`curl -X POST` signs in NearMe); when present it is validated.
  app.post('/v1/signin', { schema: { body: SignInBody } }, async (req) => {
    const body = (req.body ?? {}) as { scope?: 'NearMe' | 'Internet' | 'All' };
    return deps.signIn(body.scope ?? 'NearMe');
  });
  app.post('/v1/signout', async () => deps.signOut());
  if (deps.contacts) contactsRoutes(app, deps.contacts);
  if (deps.collab) collabRoutes(app, deps.collab);
  if (deps.collaboration) collaborationRoutes(app, deps.collaboration);
  if (deps.panel) panelRoutes(app, deps.panel);

  // Event stream: newline-delimited JSON; `since` replays the buffered history, `follow=false` ends after it.
  app.get('/v1/events', { schema: { querystring: EventsQuery } }, (req, reply) => {
    const q = req.query as { since?: number; follow?: boolean };
    const since = q.since ?? deps.events.lastId;
    if (q.follow === false) {
      return reply.send(deps.events.since(since));
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    let last = since;
    const write = (ev: { id: number }): void => {
      if (ev.id <= last) return;
      last = ev.id;
      res.write(JSON.stringify(ev) + '\n');
    };
    for (const ev of deps.events.since(since)) write(ev);
    const off = deps.events.onAny(write);
    const beat = setInterval(() => res.write('\n'), HEARTBEAT_MS);
    const close = (): void => {
      clearInterval(beat);
      off();
    };
    req.raw.on('close', close);
    res.on('close', close);
  });

  return app;
}
