import Fastify from 'fastify';
import t from 'tap';
import { collabPeerRoutes } from '../../../firmware/collab/peer-routes.js';
import { ManualClock } from '../../../firmware/core/clock.js';
import { schemaController } from '../../../firmware/core/lazy-schemas.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { buildControlApi } from '../../../firmware/control/app.js';
import { buildPeerApi } from '../../../firmware/wire/app.js';
import { fakeAgent } from '../control/fake-agent.js';
import { fakeDeps, makePeer } from '../wire/helpers.js';

// Registration only keeps these objects for the handlers; no handler runs in the compile checks.
const unused = {} as never;

t.test('every route schema of the control API compiles (eager, as fastify does at ready)', async (t) => {
  const app = buildControlApi(
    { ...fakeAgent(), contacts: unused, collab: unused, collaboration: unused, panel: unused },
    {},
    { eagerSchemas: true },
  );
  t.teardown(() => app.close());
  await t.resolves(async () => {
    await app.ready();
  });
  t.ok(app.hasRoute({ method: 'PUT', url: '/v1/presence' }), 'the routes were registered');
});

t.test('every route schema of the peer API and its collaboration routes compiles (eager)', async (t) => {
  const me = await makePeer();
  const app = buildPeerApi(
    fakeDeps(me, new ManualClock()),
    {
      eagerSchemas: true,
      routes: (a) =>
        collabPeerRoutes(a, {
          logger: silentLogger(),
          clock: new ManualClock(),
          invitations: unused,
          hostRequests: unused,
          host: unused,
          streams: unused,
          membership: unused,
          clockSynchronised: () => true,
          ready: () => true,
        }),
    },
    { identify: () => ({ peerId: 'CALLERA-AAAAAAA' }) },
  );
  t.teardown(() => app.close());
  await t.resolves(async () => {
    await app.ready();
  });
});

/** A small app with a body schema and a response schema, built with the given controller. */
function demo(eager: boolean) {
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: schemaController(eager),
  });
  const Body = {
    type: 'object',
    required: ['n'],
    additionalProperties: false,
    properties: { n: { type: 'integer', minimum: 1 }, tag: { type: 'string', default: 'none' } },
  } as const;
  const Reply = {
    200: {
      type: 'object',
      additionalProperties: false,
      properties: { n: { type: 'integer' }, tag: { type: 'string' } },
    },
  } as const;
  app.post('/n', { schema: { body: Body, response: Reply } }, async (req) => ({
    ...(req.body as object),
    secret: 'not in the reply schema',
  }));
  app.get(
    '/q',
    { schema: { querystring: { type: 'object', properties: { k: { type: 'integer' } } } } },
    async (req) => ({
      k: (req.query as { k?: number }).k ?? null,
    }),
  );
  return app;
}

t.test(
  'compiled on first use, a route validates, coerces, fills defaults and serialises as fastify does',
  async (t) => {
    const lazy = demo(false);
    const eager = demo(true);
    t.teardown(() => Promise.all([lazy.close(), eager.close()]));
    const requests = [
      { method: 'POST' as const, url: '/n', payload: { n: 3 } },
      { method: 'POST' as const, url: '/n', payload: { n: 3, tag: 'x' } },
      { method: 'POST' as const, url: '/n', payload: { n: 0 } },
      { method: 'POST' as const, url: '/n', payload: { n: 2, extra: true } },
      { method: 'POST' as const, url: '/n', payload: { tag: 'no n' } },
      { method: 'POST' as const, url: '/n', payload: { n: 'four' } },
      { method: 'GET' as const, url: '/q?k=12' },
      { method: 'GET' as const, url: '/q?k=twelve' },
    ];
    for (const r of requests) {
      const [a, b] = [await lazy.inject(r), await eager.inject(r)];
      t.equal(a.statusCode, b.statusCode, `${r.method} ${r.url} ${JSON.stringify(r.payload ?? '')}: status`);
      t.same(a.json(), b.json(), `${r.method} ${r.url} ${JSON.stringify(r.payload ?? '')}: body`);
    }
    const ok = await lazy.inject(requests[0] as (typeof requests)[number]);
    t.same(
      ok.json(),
      { n: 3, tag: 'none' },
      'default filled in; a field outside the reply schema is not sent',
    );
    t.equal(
      (await lazy.inject(requests[2] as (typeof requests)[number])).statusCode,
      400,
      'minimum enforced',
    );
  },
);

t.test(
  'a broken schema fails at ready when eager, and only on its route when compiled on first use',
  async (t) => {
    const build = (eager: boolean) => {
      const app = Fastify({ logger: false, schemaController: schemaController(eager) });
      app.post('/broken', { schema: { body: { type: 'no-such-type' } } }, async () => ({ ok: true }));
      app.get('/fine', async () => ({ ok: true }));
      return app;
    };
    const eager = build(true);
    t.teardown(() => eager.close());
    await t.rejects(async () => {
      await eager.ready();
    }, 'fastify refuses the schema at start-up');

    const lazy = build(false);
    t.teardown(() => lazy.close());
    await t.resolves(async () => {
      await lazy.ready();
    }, 'nothing compiled at start-up');
    t.equal((await lazy.inject({ url: '/fine' })).statusCode, 200, 'the other routes work');
    t.equal((await lazy.inject({ method: 'POST', url: '/broken', payload: {} })).statusCode, 500);
  },
);
