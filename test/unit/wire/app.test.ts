import t from 'tap';
import { ManualClock } from '../../../firmware/core/clock.js';
import { buildPeerApi, type PeerApiInit } from '../../../firmware/wire/app.js';
import { TokenBuckets } from '../../../firmware/wire/limits.js';
import { fakeDeps, makePeer, type FakeDeps } from './helpers.js';

const me = await makePeer();
const caller = 'CALLERA-AAAAAAA';

/** The app through inject: the caller's id comes from a test header (the server takes it from TLS). */
function build(init: PeerApiInit = {}, deps: FakeDeps = fakeDeps(me, new ManualClock())) {
  const app = buildPeerApi(deps, init, {
    identify: (raw) => {
      const id = raw.headers['x-test-peer'];
      return typeof id === 'string' ? { peerId: id } : undefined;
    },
  });
  t.teardown(() => app.close());
  return { app, deps };
}
const as = { 'x-test-peer': caller };

t.test('card, presence, applications and objects', async (t) => {
  const { app } = build();
  const card = await app.inject({ url: '/v1/card', headers: as });
  t.equal(card.statusCode, 200);
  t.match(card.json(), { peerId: me.peerId, nickname: 'Kitchen', classifier: 'kitchen-hub' });
  t.match(card.json().rootCertPem, /BEGIN CERTIFICATE/);
  t.same((await app.inject({ url: '/v1/presence', headers: as })).json(), {
    status: 'Online',
    text: 'cooking',
    seq: 3,
  });
  t.same((await app.inject({ url: '/v1/applications', headers: as })).json(), []);
  t.same((await app.inject({ url: '/v1/objects', headers: as })).json(), []);
});

t.test('responses are schema-checked: a broken card is a 500, not a leak', async (t) => {
  const deps = fakeDeps(me, new ManualClock());
  deps.card = () => ({ peerId: 1 }) as never;
  const { app } = build({}, deps);
  const res = await app.inject({ url: '/v1/card', headers: as });
  t.equal(res.statusCode, 500);
  t.match(res.json(), { code: 'PH_ERR_INTERNAL', statusCode: 500 });
});

t.test('no verified caller → 401; unknown route → 404 JSON', async (t) => {
  const { app } = build();
  const anon = await app.inject({ url: '/v1/card' });
  t.equal(anon.statusCode, 401);
  t.match(anon.json(), { code: 'PH_ERR_UNAUTHENTICATED', statusCode: 401 });
  const nf = await app.inject({ url: '/v2/nothing', headers: as });
  t.equal(nf.statusCode, 404);
  t.match(nf.json(), { code: 'PH_ERR_NOT_FOUND', message: /GET \/v2\/nothing/ });
});

t.test('bodies: 64 KB limit (413), malformed JSON (400), schema (400)', async (t) => {
  const { app } = build({
    routes: (a) =>
      a.post(
        '/v1/echo',
        { schema: { body: { type: 'object', properties: { s: { type: 'string' } } } } },
        async (req) => req.body,
      ),
  });
  const post = (payload: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { ...as, 'content-type': 'application/json' },
      payload,
    });
  t.equal((await post('{"s":"x"}')).statusCode, 200);
  const big = await post(JSON.stringify({ s: 'x'.repeat(65 * 1024) }));
  t.equal(big.statusCode, 413);
  t.match(big.json(), { code: 'PH_ERR_BODY_TOO_LARGE', statusCode: 413 });
  const bad = await post('{"s": ');
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { code: 'PH_ERR_BAD_REQUEST', statusCode: 400 });
  const wrong = await post('{"s": {"t": 1}}');
  t.equal(wrong.statusCode, 400);
  t.match(wrong.json(), { code: 'PH_ERR_BAD_REQUEST', message: /s/ });
});

t.test('per-peer rate limit: burst, then 429 with Retry-After, refill with the clock', async (t) => {
  const clock = new ManualClock();
  const { app } = build({ rateLimit: { perSecond: 2, burst: 3 } }, fakeDeps(me, clock));
  const get = (peer: string) => app.inject({ url: '/v1/presence', headers: { 'x-test-peer': peer } });
  for (let i = 0; i < 3; i++) t.equal((await get(caller)).statusCode, 200);
  const limited = await get(caller);
  t.equal(limited.statusCode, 429);
  t.match(limited.json(), { code: 'PH_ERR_RATE_LIMITED', statusCode: 429 });
  t.equal(limited.headers['retry-after'], '1');
  t.equal((await get('OTHERPE-ERAAAAA')).statusCode, 200, 'another peer has its own bucket');
  clock.advance(500);
  t.equal((await get(caller)).statusCode, 200, 'one token back after 500 ms');
  t.equal((await get(caller)).statusCode, 429);
});

t.test('token buckets stay bounded', async (t) => {
  const b = new TokenBuckets({ perSecond: 1, burst: 1 }, 10);
  for (let i = 0; i < 100; i++) b.take(`p${i}`, 0);
  t.ok(b.size <= 10);
  t.equal(b.take('p99', 0), false, 'recent bucket kept');
});

t.test('events: a blocked subscriber gets 403 before any stream', async (t) => {
  const { app, deps } = build();
  deps.blocked.add(caller);
  const res = await app.inject({ url: '/v1/events', headers: as });
  t.equal(res.statusCode, 403);
  t.match(res.json(), { code: 'PH_ERR_FORBIDDEN', statusCode: 403 });
  const badSince = await app.inject({ url: '/v1/events?since=-1', headers: as });
  t.equal(badSince.statusCode, 400);
});
