import type { FastifyInstance } from 'fastify';
import type { CollabControl } from './collab-types.js';
import { checked, IdParams, IdString, invitationRoutes, NoBody, PeerString } from './invitation-routes.js';

const MemberParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'peer'],
  properties: { id: IdString, peer: PeerString },
} as const;
const CreateBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { appId: IdString },
} as const;
const MessageBody = {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: { text: { type: 'string', minLength: 1, maxLength: 4096 } },
} as const;

type IdReq = { Params: { id: string } };

/** `/v1/sessions…`: the sessions this hub hosts or joined, their members and messages. */
export function sessionRoutes(app: FastifyInstance, c: CollabControl): void {
  app.get('/v1/sessions', async () => c.sessions());
  app.post<{ Body: { appId?: string } | null }>(
    '/v1/sessions',
    checked({ body: CreateBody }),
    async (req, reply) => {
      const appId = req.body?.appId;
      return reply.code(201).send(await c.createSession(appId === undefined ? {} : { appId }));
    },
  );
  app.get<IdReq>('/v1/sessions/:id', checked({ params: IdParams }), async (req) => c.session(req.params.id));
  app.post<IdReq & { Body: { text: string } }>(
    '/v1/sessions/:id/messages',
    checked({ params: IdParams, body: MessageBody }),
    async (req) => c.send(req.params.id, req.body.text),
  );
  app.post<IdReq>('/v1/sessions/:id/leave', checked({ params: IdParams, body: NoBody }), async (req) =>
    c.leave(req.params.id),
  );
  app.post<IdReq>('/v1/sessions/:id/end', checked({ params: IdParams, body: NoBody }), async (req) =>
    c.end(req.params.id),
  );
  app.delete<{ Params: { id: string; peer: string } }>(
    '/v1/sessions/:id/members/:peer',
    checked({ params: MemberParams }),
    async (req) => c.removeMember(req.params.id, req.params.peer),
  );
}

/** Everything collaboration adds to the control API (host requests, invitations, sessions, policy). */
export function collaborationRoutes(app: FastifyInstance, c: CollabControl): void {
  invitationRoutes(app, c);
  sessionRoutes(app, c);
}
