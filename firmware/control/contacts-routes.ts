import type { FastifyInstance } from 'fastify';
import { MAX_CONTACT_XML_BYTES } from '../contacts/index.js';
import type { ContactsControl } from './contacts-types.js';

const Ref = {
  type: 'object',
  required: ['ref'],
  properties: { ref: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

const Patch = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    nickname: { type: 'string' },
    displayName: { type: 'string' },
    email: { type: 'string' },
    endpoints: { type: 'array', items: { type: 'string' }, maxItems: 16 },
  },
} as const;

const SubscriptionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['subscription'],
  properties: { subscription: { type: 'string', enum: ['allowed', 'blocked'] } },
} as const;

const NearbyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['peer'],
  properties: { peer: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

type RefReq = { Params: { ref: string } };
const XML = 'application/xml; charset=utf-8';

/** `/v1/contacts…` and `/v1/me/contact`: the seed's contact manager over the control socket. */
export function contactsRoutes(app: FastifyInstance, contacts: ContactsControl): void {
  // Contact files are posted as they are on disk: application/xml, text/xml or text/plain.
  app.addContentTypeParser(
    ['application/xml', 'text/xml'],
    { parseAs: 'string', bodyLimit: MAX_CONTACT_XML_BYTES },
    (_req, body, done) => done(null, body),
  );

  app.get('/v1/contacts', async () => contacts.list());
  app.get<RefReq>('/v1/contacts/:ref', { schema: { params: Ref } }, async (req) =>
    contacts.show(req.params.ref),
  );
  app.post<{ Body: { peer: string } }>(
    '/v1/contacts/nearby',
    { schema: { body: NearbyBody } },
    async (req, reply) => reply.code(201).send(await contacts.addNearby(req.body.peer)),
  );
  app.post('/v1/contacts/import', { bodyLimit: MAX_CONTACT_XML_BYTES }, async (req, reply) => {
    if (typeof req.body !== 'string') {
      return reply.code(415).send({
        code: 'PH_ERR_BAD_REQUEST',
        message: 'post the contact file as application/xml',
        statusCode: 415,
      });
    }
    return reply.code(201).send(await contacts.importXml(req.body));
  });
  app.get<RefReq>('/v1/contacts/:ref/export', { schema: { params: Ref } }, async (req, reply) =>
    reply.type(XML).send(contacts.exportXml(req.params.ref)),
  );
  app.get('/v1/me/contact', async (_req, reply) => reply.type(XML).send(contacts.exportMe()));
  app.get<RefReq>('/v1/contacts/:ref/verify', { schema: { params: Ref } }, async (req) =>
    contacts.code(req.params.ref),
  );
  app.post<RefReq>('/v1/contacts/:ref/verify', { schema: { params: Ref } }, async (req) =>
    contacts.confirm(req.params.ref),
  );
  app.patch<RefReq & { Body: Record<string, never> }>(
    '/v1/contacts/:ref',
    { schema: { params: Ref, body: Patch } },
    async (req) => contacts.update(req.params.ref, req.body),
  );
  app.delete<RefReq>('/v1/contacts/:ref', { schema: { params: Ref } }, async (req) =>
    contacts.remove(req.params.ref),
  );
  app.post<RefReq>('/v1/contacts/:ref/subscribe', { schema: { params: Ref } }, async (req) =>
    contacts.subscribe(req.params.ref),
  );
  app.put<RefReq & { Body: { subscription: 'allowed' | 'blocked' } }>(
    '/v1/contacts/:ref/subscription',
    { schema: { params: Ref, body: SubscriptionBody } },
    async (req) => contacts.setSubscription(req.params.ref, req.body.subscription),
  );
}
