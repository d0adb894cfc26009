import type { FastifyInstance, FastifySchema, FastifySchemaValidationError } from 'fastify';
import type { HostRequestState } from '../collab/host-requests-types.js';
import type { InvitationState } from '../collab/types.js';
import { PeerhubError } from '../core/errors.js';
import type { CollabControl, InviteRequest, PolicyPatch } from './collab-types.js';

const HOST_REQUEST_STATES = Object.keys({
  pending: 1,
  accepted: 1,
  declined: 1,
  expired: 1,
  failed: 1,
} satisfies Record<HostRequestState, 1>);
const INVITATION_STATES = Object.keys({
  pending: 1,
  accepted: 1,
  declined: 1,
  expired: 1,
  cancelled: 1,
  failed: 1,
} satisfies Record<InvitationState, 1>);

export const IdString = { type: 'string', minLength: 1, maxLength: 128 } as const;
export const PeerString = { type: 'string', minLength: 1, maxLength: 200 } as const;
const Direction = { type: 'string', enum: ['in', 'out'] } as const;
const Message = { type: 'string', maxLength: 255 } as const;
/** ≤ 16 KB decoded. */
const Base64 = { type: 'string', maxLength: 21_848, pattern: '^[A-Za-z0-9+/]*={0,2}$' } as const;
const Millis = { type: 'integer', minimum: 1000, maximum: 3_600_000 } as const;

export const IdParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: IdString },
} as const;
/** Actions without arguments: no body, `{}` or `null`; anything else is refused. */
export const NoBody = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;

const HostRequestBody = {
  type: 'object',
  additionalProperties: false,
  required: ['peer'],
  properties: { peer: PeerString, appId: IdString, message: Message, timeoutMs: Millis },
} as const;
const HostRequestsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { direction: Direction, state: { type: 'string', enum: HOST_REQUEST_STATES } },
} as const;
const AnswerBody = {
  type: 'object',
  additionalProperties: false,
  required: ['answer'],
  properties: { answer: { type: 'string', enum: ['accepted', 'declined'] } },
} as const;
const InviteBody = {
  type: 'object',
  additionalProperties: false,
  required: ['peers'],
  properties: {
    peers: { type: 'array', minItems: 1, maxItems: 64, items: PeerString },
    session: IdString,
    appId: IdString,
    message: Message,
    data: Base64,
    expiresInMs: Millis,
  },
} as const;
const InvitationsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    direction: Direction,
    state: { type: 'string', enum: INVITATION_STATES },
    session: IdString,
  },
} as const;
const PolicyBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    invite: {
      type: 'object',
      additionalProperties: false,
      required: ['mode'],
      properties: {
        mode: { type: 'string', enum: ['contacts', 'nearby', 'nobody'] },
        minutes: { type: 'integer', minimum: 1, maximum: 60 },
      },
    },
    host: { type: 'string', enum: ['auto-contacts', 'ask', 'never'] },
    contactsOnActivity: { type: 'string', enum: ['add', 'never'] },
  },
} as const;

/**
 * fastify's messages, except that an unknown or missing field is named ("body/colour is not allowed"):
 * the client sees which of its fields was refused.
 */
export function namedFieldErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const e = errors[0];
  if (!e) return new Error(`${dataVar} is invalid`);
  const at = `${dataVar}${e.instancePath}`;
  const p = e.params as { additionalProperty?: string; missingProperty?: string };
  if (e.keyword === 'additionalProperties' && p.additionalProperty !== undefined)
    return new Error(`${at}/${p.additionalProperty} is not allowed`);
  if (e.keyword === 'required' && p.missingProperty !== undefined)
    return new Error(`${at}/${p.missingProperty} is required`);
  return new Error(`${at} ${e.message ?? 'is invalid'}`);
}
export const checked = (schema: FastifySchema) => ({ schema, schemaErrorFormatter: namedFieldErrors });

/** Only the keys present (query strings and optional fields arrive as absent, never as undefined). */
export function present<T extends object>(o: T | null | undefined): Partial<T> {
  const r: Partial<T> = {};
  for (const [k, v] of Object.entries(o ?? {})) if (v !== undefined) (r as Record<string, unknown>)[k] = v;
  return r;
}

type IdReq = { Params: { id: string } };

/**
 * `/v1/host-requests…`, `/v1/invitations…`, `/v1/sessions/:id/cancel-no-response` and `/v1/policy`: who
 * hosts, who is invited, who may invite. Errors of the collaboration layer (PeerhubError) pass through.
 */
export function invitationRoutes(app: FastifyInstance, c: CollabControl): void {
  app.post<{ Body: { peer: string; appId?: string; message?: string; timeoutMs?: number } }>(
    '/v1/host-requests',
    checked({ body: HostRequestBody }),
    async (req) => {
      const { peer, ...opts } = req.body;
      return c.hostRequest(peer, present(opts));
    },
  );
  app.get<{ Querystring: { direction?: 'in' | 'out'; state?: HostRequestState } }>(
    '/v1/host-requests',
    checked({ querystring: HostRequestsQuery }),
    async (req) => c.hostRequests(present(req.query)),
  );
  app.post<IdReq & { Body: { answer: 'accepted' | 'declined' } }>(
    '/v1/host-requests/:id/answer',
    checked({ params: IdParams, body: AnswerBody }),
    async (req) => c.answerHostRequest(req.params.id, req.body.answer),
  );

  app.post<{ Body: InviteRequest }>('/v1/invitations', checked({ body: InviteBody }), async (req, reply) =>
    reply.code(201).send(await c.invite(present(req.body) as InviteRequest)),
  );
  app.get<{ Querystring: { direction?: 'in' | 'out'; state?: InvitationState; session?: string } }>(
    '/v1/invitations',
    checked({ querystring: InvitationsQuery }),
    async (req) => c.invitations(present(req.query)),
  );
  app.get<IdReq>('/v1/invitations/:id', checked({ params: IdParams }), async (req) =>
    c.invitation(req.params.id),
  );
  app.post<IdReq>('/v1/invitations/:id/accept', checked({ params: IdParams, body: NoBody }), async (req) =>
    c.accept(req.params.id),
  );
  app.post<IdReq>('/v1/invitations/:id/decline', checked({ params: IdParams, body: NoBody }), async (req) =>
    c.decline(req.params.id),
  );
  app.post<IdReq>('/v1/invitations/:id/cancel', checked({ params: IdParams, body: NoBody }), async (req) =>
    c.cancel(req.params.id),
  );
  app.post<IdReq>(
    '/v1/sessions/:id/cancel-no-response',
    checked({ params: IdParams, body: NoBody }),
    async (req) => c.cancelNoResponse(req.params.id),
  );

  app.get('/v1/policy', async () => c.policy());
  app.put<{ Body: PolicyPatch }>('/v1/policy', checked({ body: PolicyBody }), async (req) => {
    const invite = req.body.invite as { mode: string; minutes?: number } | undefined;
    if (invite && invite.minutes !== undefined && invite.mode !== 'nearby') {
      throw new PeerhubError('PH_ERR_BAD_REQUEST', 'body/invite/minutes is only for mode "nearby"', {
        statusCode: 400,
      });
    }
    return c.setPolicy(req.body);
  });
}
