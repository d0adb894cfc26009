import t from 'tap';
import { buildControlApi } from '../../../firmware/control/app.js';
import { fakeAgent } from './fake-agent.js';

t.test('status, peers and presence through inject', async (t) => {
  const agent = fakeAgent();
  const app = buildControlApi(agent);
  t.teardown(() => app.close());

  const status = await app.inject({ method: 'GET', url: '/v1/status' });
  t.equal(status.statusCode, 200);
  t.match(status.json(), {
    id: 'AAAAAAA-BBBBBBB',
    peerName: 'AAAAAAA-BBBBBBB.hub',
    scope: 'NearMe',
    presence: { status: 'Online' },
  });

  const peers = await app.inject({ method: 'GET', url: '/v1/peers' });
  t.match(peers.json(), [
    { id: 'CCCCCCC-DDDDDDD', nickname: 'Attic', status: 'Busy', endpoints: ['10.77.0.3:7443'] },
  ]);

  const set = await app.inject({
    method: 'PUT',
    url: '/v1/presence',
    payload: { status: 'Busy', text: 'in a call' },
  });
  t.equal(set.statusCode, 200);
  t.match(set.json(), { status: 'Busy', text: 'in a call', seq: 2 });
  t.equal((await app.inject({ method: 'GET', url: '/v1/presence' })).json().status, 'Busy');
});

t.test('sign in and out', async (t) => {
  const agent = fakeAgent();
  const app = buildControlApi(agent);
  t.teardown(() => app.close());
  t.equal((await app.inject({ method: 'POST', url: '/v1/signout' })).json().scope, 'None');
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/signin', payload: { scope: 'All' } })).json().scope,
    'All',
  );
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/signin' })).json().scope,
    'NearMe',
    'no body: NearMe',
  );
});

t.test('bad requests get a JSON error with a code and a message', async (t) => {
  const app = buildControlApi(fakeAgent());
  t.teardown(() => app.close());
  const cases = [
    { method: 'PUT' as const, url: '/v1/presence', payload: { status: 'Sleeping' } },
    { method: 'PUT' as const, url: '/v1/presence', payload: { status: 'Busy', text: 'x'.repeat(256) } },
    { method: 'PUT' as const, url: '/v1/presence', payload: { status: 'Busy', extra: 1 } },
    { method: 'POST' as const, url: '/v1/signin', payload: { scope: 'None' } },
    { method: 'GET' as const, url: '/v1/events?since=-4&follow=false' },
  ];
  for (const c of cases) {
    const res = await app.inject(c);
    t.equal(res.statusCode, 400, `${c.method} ${c.url} ${JSON.stringify(c.payload ?? '')}`);
    t.equal(res.json().code, 'PH_ERR_BAD_REQUEST');
    t.type(res.json().message, 'string');
  }
  const junk = await app.inject({
    method: 'PUT',
    url: '/v1/presence',
    headers: { 'content-type': 'application/json' },
    payload: '{"status":',
  });
  t.equal(junk.statusCode, 400);
  t.equal(junk.json().code, 'PH_ERR_BAD_REQUEST');
  const big = await app.inject({
    method: 'PUT',
    url: '/v1/presence',
    payload: { status: 'Busy', text: 'y'.repeat(70_000) },
  });
  t.equal(big.statusCode, 413, 'bodies over 64 KB are refused');
  const missing = await app.inject({ method: 'GET', url: '/v1/nope' });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'PH_ERR_NOT_FOUND');
});

t.test('events: history since an id, without following', async (t) => {
  const agent = fakeAgent();
  const app = buildControlApi(agent);
  t.teardown(() => app.close());
  agent.bus.emit('peer:found', { nickname: 'A' });
  agent.bus.emit('peer:lost', { nickname: 'A' });
  const all = (await app.inject({ method: 'GET', url: '/v1/events?since=0&follow=false' })).json();
  t.same(
    all.map((e: { id: number; type: string }) => [e.id, e.type]),
    [
      [1, 'peer:found'],
      [2, 'peer:lost'],
    ],
  );
  const later = (await app.inject({ method: 'GET', url: '/v1/events?since=1&follow=false' })).json();
  t.equal(later.length, 1);
});
