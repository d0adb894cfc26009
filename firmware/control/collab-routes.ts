import type { FastifyInstance } from 'fastify';
import type { Applications, Objects } from '../collab/apps-types.js';

const Id = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

/**
 * `/v1/apps` and `/v1/objects`: the applications and objects this hub publishes. Bodies are checked
 * field by field by the registries (each error names its field); sizes are bounded by the body limit.
 */
export function collabRoutes(app: FastifyInstance, deps: { apps: Applications; objects: Objects }): void {
  app.get('/v1/apps', async () => deps.apps.list());
  app.post('/v1/apps', async (req, reply) => reply.code(201).send(await deps.apps.register(req.body)));
  app.delete<{ Params: { id: string } }>('/v1/apps/:id', { schema: { params: Id } }, async (req) =>
    deps.apps.unregister(req.params.id),
  );
  app.get('/v1/objects', async () => deps.objects.list());
  app.put<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/v1/objects/:id',
    { schema: { params: Id, body: { type: 'object' } } },
    async (req) => deps.objects.set({ ...req.body, id: req.params.id }),
  );
  app.delete<{ Params: { id: string } }>('/v1/objects/:id', { schema: { params: Id } }, async (req) =>
    deps.objects.delete(req.params.id),
  );
}
