import t, { type Test } from 'tap';
import { buildControlApi } from '../../../firmware/control/app.js';
import { PeerhubError } from '../../../firmware/core/errors.js';
import {
  ATTIC,
  CELLAR,
  collabFake,
  IN_HOST_REQUEST,
  IN_INVITATION,
  IN_SESSION,
  ME,
  type FakeCollab,
} from './collab-fake.js';
import { fakeAgent } from './fake-agent.js';

// The collaboration routes over an in-memory CollabControl (inject, no sockets).
function setup(t: Test): { fake: FakeCollab; app: ReturnType<typeof buildControlApi> } {
  const fake = collabFake();
  const app = buildControlApi({ ...fakeAgent(), collaboration: fake });
  t.teardown(() => app.close());
  return { fake, app };
}

t.test('host requests: ask, list, answer', async (t) => {
  const { fake, app } = setup(t);
  const ask = await app.inject({
    method: 'POST',
    url: '/v1/host-requests',
    payload: { peer: 'Attic', appId: 'chess', message: 'host a game?', timeoutMs: 60_000 },
  });
  t.equal(ask.statusCode, 200, ask.body);
  t.same(fake.calls.at(-1), {
    method: 'hostRequest',
    args: ['Attic', { appId: 'chess', message: 'host a game?', timeoutMs: 60_000 }],
  });
  t.match(ask.json(), { peer: ATTIC, state: 'accepted', session: /^[0-9a-f]{32}$/ });

  fake.hostOutcome = { state: 'declined', reason: 'busy' };
  const no = await app.inject({ method: 'POST', url: '/v1/host-requests', payload: { peer: 'Attic' } });
  t.same(fake.calls.at(-1)?.args, ['Attic', {}], 'absent options are not sent as undefined');
  t.same(no.json(), { id: no.json().id, peer: ATTIC, state: 'declined', reason: 'busy' });

  const all = await app.inject({ method: 'GET', url: '/v1/host-requests' });
  t.same(fake.calls.at(-1), { method: 'hostRequests', args: [{}] });
  t.equal(all.json().length, 3);
  const incoming = await app.inject({ method: 'GET', url: '/v1/host-requests?direction=in&state=pending' });
  t.same(fake.calls.at(-1), { method: 'hostRequests', args: [{ direction: 'in', state: 'pending' }] });
  t.same(
    incoming.json().map((r: { id: string }) => r.id),
    [IN_HOST_REQUEST],
  );

  const answer = await app.inject({
    method: 'POST',
    url: `/v1/host-requests/${IN_HOST_REQUEST}/answer`,
    payload: { answer: 'accepted' },
  });
  t.equal(answer.statusCode, 200, answer.body);
  t.same(fake.calls.at(-1), { method: 'answerHostRequest', args: [IN_HOST_REQUEST, 'accepted'] });
  t.match(answer.json(), { id: IN_HOST_REQUEST, peer: CELLAR, state: 'accepted', session: /^[0-9a-f]{32}$/ });
});

t.test('invitations: invite, list, show, accept, decline, cancel', async (t) => {
  const { fake, app } = setup(t);
  const data = Buffer.from('board state').toString('base64');
  const sent = await app.inject({
    method: 'POST',
    url: '/v1/invitations',
    payload: { peers: ['Attic', CELLAR], appId: 'chess', message: 'a game?', data, expiresInMs: 120_000 },
  });
  t.equal(sent.statusCode, 201, sent.body);
  t.same(fake.calls.at(-1), {
    method: 'invite',
    args: [{ peers: ['Attic', CELLAR], appId: 'chess', message: 'a game?', data, expiresInMs: 120_000 }],
  });
  const { session, invitations } = sent.json();
  t.match(invitations, [
    { peer: ATTIC, name: 'Attic', direction: 'out', state: 'pending', session, data },
    { peer: CELLAR, name: 'Cellar', direction: 'out', state: 'pending', session },
  ]);

  const more = await app.inject({
    method: 'POST',
    url: '/v1/invitations',
    payload: { peers: ['Attic'], session },
  });
  t.equal(more.statusCode, 201);
  t.same(fake.calls.at(-1)?.args, [{ peers: ['Attic'], session }], 'an existing session');
  t.equal(more.json().session, session);

  const out = await app.inject({ method: 'GET', url: `/v1/invitations?direction=out&session=${session}` });
  t.same(fake.calls.at(-1), { method: 'invitations', args: [{ direction: 'out', session }] });
  t.equal(out.json().length, 3);
  const none = await app.inject({ method: 'GET', url: '/v1/invitations?state=accepted' });
  t.same(fake.calls.at(-1)?.args, [{ state: 'accepted' }]);
  t.same(none.json(), []);

  const one = await app.inject({ method: 'GET', url: `/v1/invitations/${IN_INVITATION}` });
  t.same(fake.calls.at(-1), { method: 'invitation', args: [IN_INVITATION] });
  t.match(one.json(), { id: IN_INVITATION, direction: 'in', name: 'Attic', state: 'pending' });

  const accepted = await app.inject({ method: 'POST', url: `/v1/invitations/${IN_INVITATION}/accept` });
  t.equal(accepted.statusCode, 200, accepted.body);
  t.same(fake.calls.at(-1), { method: 'accept', args: [IN_INVITATION] });
  t.match(accepted.json(), {
    id: IN_INVITATION,
    state: 'accepted',
    session: IN_SESSION,
    joined: true,
    launched: { appId: 'chess', pid: 4242 },
  });

  const first = invitations[0].id as string;
  const cancelled = await app.inject({
    method: 'POST',
    url: `/v1/invitations/${first}/cancel`,
    payload: {},
  });
  t.equal(cancelled.statusCode, 200, 'an empty body is accepted');
  t.same(fake.calls.at(-1), { method: 'cancel', args: [first] });
  t.match(cancelled.json(), { id: first, state: 'cancelled' });

  const rest = await app.inject({ method: 'POST', url: `/v1/sessions/${session}/cancel-no-response` });
  t.same(fake.calls.at(-1), { method: 'cancelNoResponse', args: [session] });
  t.same(
    rest.json().map((i: { peer: string; state: string }) => [i.peer, i.state]),
    [
      [CELLAR, 'cancelled'],
      [ATTIC, 'cancelled'],
    ],
  );

  fake.invitationsById.set('d4'.repeat(16), { ...one.json(), id: 'd4'.repeat(16), state: 'pending' });
  const declined = await app.inject({ method: 'POST', url: `/v1/invitations/${'d4'.repeat(16)}/decline` });
  t.same(fake.calls.at(-1), { method: 'decline', args: ['d4'.repeat(16)] });
  t.match(declined.json(), { state: 'declined' });
});

t.test('sessions: list, show, create, send, leave, end, remove a member', async (t) => {
  const { fake, app } = setup(t);
  const list = await app.inject({ method: 'GET', url: '/v1/sessions' });
  t.same(fake.calls.at(-1), { method: 'sessions', args: [] });
  t.match(list.json(), [{ id: IN_SESSION, role: 'member', host: ATTIC }]);
  t.notOk('messages' in list.json()[0], 'the list has no messages');

  const show = await app.inject({ method: 'GET', url: `/v1/sessions/${IN_SESSION}` });
  t.same(fake.calls.at(-1), { method: 'session', args: [IN_SESSION] });
  t.match(show.json(), { id: IN_SESSION, messages: [{ seq: 1, text: 'welcome' }, { seq: 2 }] });

  const bare = await app.inject({ method: 'POST', url: '/v1/sessions' });
  t.equal(bare.statusCode, 201, bare.body);
  t.same(fake.calls.at(-1), { method: 'createSession', args: [{}] });
  const created = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { appId: 'chess' } });
  t.equal(created.statusCode, 201);
  t.same(fake.calls.at(-1), { method: 'createSession', args: [{ appId: 'chess' }] });
  t.match(created.json(), { host: ME, role: 'host', state: 'open', appId: 'chess', seq: 0 });

  const sent = await app.inject({
    method: 'POST',
    url: `/v1/sessions/${IN_SESSION}/messages`,
    payload: { text: 'your move' },
  });
  t.equal(sent.statusCode, 200, sent.body);
  t.same(fake.calls.at(-1), { method: 'send', args: [IN_SESSION, 'your move'] });
  t.match(sent.json(), { seq: 3, from: ME, text: 'your move' });

  const left = await app.inject({ method: 'POST', url: `/v1/sessions/${IN_SESSION}/leave` });
  t.same(fake.calls.at(-1), { method: 'leave', args: [IN_SESSION] });
  t.match(left.json(), { id: IN_SESSION, state: 'left' });

  const host = created.json().id as string;
  await app.inject({ method: 'POST', url: '/v1/invitations', payload: { peers: ['Attic'], session: host } });
  fake.sessionsById.get(host)!.members.push({ id: ATTIC, name: 'Attic', connected: true });
  const removed = await app.inject({ method: 'DELETE', url: `/v1/sessions/${host}/members/Attic` });
  t.equal(removed.statusCode, 200, removed.body);
  t.same(fake.calls.at(-1), { method: 'removeMember', args: [host, 'Attic'] });
  t.same(removed.json().members, []);

  const ended = await app.inject({ method: 'POST', url: `/v1/sessions/${host}/end`, payload: {} });
  t.same(fake.calls.at(-1), { method: 'end', args: [host] });
  t.match(ended.json(), { id: host, state: 'ended' });
});

t.test('policy: show and change', async (t) => {
  const { fake, app } = setup(t);
  const shown = await app.inject({ method: 'GET', url: '/v1/policy' });
  t.same(fake.calls.at(-1), { method: 'policy', args: [] });
  t.same(shown.json(), { invite: { mode: 'contacts' }, host: 'auto-contacts', contactsOnActivity: 'add' });

  const patch = { invite: { mode: 'nearby', minutes: 15 }, host: 'ask', contactsOnActivity: 'never' };
  const set = await app.inject({ method: 'PUT', url: '/v1/policy', payload: patch });
  t.equal(set.statusCode, 200, set.body);
  t.same(fake.calls.at(-1), { method: 'setPolicy', args: [patch] });
  t.match(set.json(), {
    invite: { mode: 'nearby', until: Number },
    host: 'ask',
    contactsOnActivity: 'never',
  });

  await app.inject({ method: 'PUT', url: '/v1/policy', payload: { invite: { mode: 'nobody' } } });
  t.same(fake.calls.at(-1)?.args, [{ invite: { mode: 'nobody' } }]);
});

t.test('bad requests: 400 naming the field, the collaboration layer is not called', async (t) => {
  const { fake, app } = setup(t);
  const id = IN_INVITATION;
  const cases: Array<{
    method: 'GET' | 'POST' | 'PUT' | 'DELETE';
    url: string;
    payload?: unknown;
    field: RegExp;
  }> = [
    { method: 'POST', url: '/v1/host-requests', payload: {}, field: /body\/peer is required/ },
    { method: 'POST', url: '/v1/host-requests', payload: { peer: '' }, field: /body\/peer/ },
    {
      method: 'POST',
      url: '/v1/host-requests',
      payload: { peer: 'Attic', message: 'm'.repeat(256) },
      field: /body\/message/,
    },
    {
      method: 'POST',
      url: '/v1/host-requests',
      payload: { peer: 'Attic', timeoutMs: 999 },
      field: /timeoutMs/,
    },
    {
      method: 'POST',
      url: '/v1/host-requests',
      payload: { peer: 'Attic', timeoutMs: 1500.5 },
      field: /body\/timeoutMs/,
    },
    { method: 'POST', url: '/v1/host-requests', payload: { peer: 'A', colour: 1 }, field: /body\/colour/ },
    { method: 'GET', url: '/v1/host-requests?direction=up', field: /querystring\/direction/ },
    { method: 'GET', url: '/v1/host-requests?state=cancelled', field: /querystring\/state/ },
    { method: 'GET', url: '/v1/host-requests?dir=in', field: /querystring\/dir is not allowed/ },
    {
      method: 'POST',
      url: `/v1/host-requests/${id}/answer`,
      payload: { answer: 'maybe' },
      field: /body\/answer/,
    },
    { method: 'POST', url: `/v1/host-requests/${id}/answer`, payload: {}, field: /body\/answer is required/ },
    { method: 'POST', url: '/v1/invitations', payload: { peers: [] }, field: /body\/peers/ },
    {
      method: 'POST',
      url: '/v1/invitations',
      payload: { peers: Array.from({ length: 65 }, (_, i) => `p${i}`) },
      field: /body\/peers/,
    },
    { method: 'POST', url: '/v1/invitations', payload: { peers: ['Attic', ''] }, field: /body\/peers\/1/ },
    {
      method: 'POST',
      url: '/v1/invitations',
      payload: { peers: ['Attic'], data: 'not base64!' },
      field: /data/,
    },
    {
      method: 'POST',
      url: '/v1/invitations',
      payload: { peers: ['Attic'], expiresInMs: 3_600_001 },
      field: /body\/expiresInMs/,
    },
    {
      method: 'POST',
      url: '/v1/invitations',
      payload: { peers: ['Attic'], peer: 'Attic' },
      field: /body\/peer is not allowed/,
    },
    { method: 'GET', url: '/v1/invitations?state=maybe', field: /querystring\/state/ },
    { method: 'GET', url: `/v1/invitations/${'x'.repeat(129)}`, field: /params\/id/ },
    { method: 'POST', url: `/v1/invitations/${id}/accept`, payload: { now: true }, field: /body\/now/ },
    { method: 'POST', url: `/v1/invitations/${id}/decline`, payload: { why: 'no' }, field: /body\/why/ },
    { method: 'POST', url: `/v1/invitations/${id}/cancel`, payload: [1], field: /body/ },
    { method: 'POST', url: '/v1/sessions', payload: { app: 'chess' }, field: /body\/app is not allowed/ },
    { method: 'POST', url: `/v1/sessions/${id}/messages`, payload: { text: '' }, field: /body\/text/ },
    {
      method: 'POST',
      url: `/v1/sessions/${id}/messages`,
      payload: { text: 't'.repeat(4097) },
      field: /body\/text/,
    },
    { method: 'POST', url: `/v1/sessions/${id}/messages`, payload: {}, field: /body\/text is required/ },
    { method: 'PUT', url: '/v1/policy', payload: {}, field: /body/ },
    { method: 'PUT', url: '/v1/policy', payload: { host: 'always' }, field: /body\/host/ },
    { method: 'PUT', url: '/v1/policy', payload: { invite: { mode: 'all' } }, field: /body\/invite\/mode/ },
    {
      method: 'PUT',
      url: '/v1/policy',
      payload: { invite: { mode: 'nearby', minutes: 61 } },
      field: /body\/invite\/minutes/,
    },
    {
      method: 'PUT',
      url: '/v1/policy',
      payload: { invite: { mode: 'contacts', minutes: 5 } },
      field: /body\/invite\/minutes is only for mode "nearby"/,
    },
    { method: 'PUT', url: '/v1/policy', payload: { contactsOnActivity: 'ask' }, field: /contactsOnActivity/ },
  ];
  for (const c of cases) {
    const before = fake.calls.length;
    const res = await app.inject({ method: c.method, url: c.url, payload: c.payload as object });
    const what = `${c.method} ${c.url.slice(0, 60)} ${JSON.stringify(c.payload ?? '').slice(0, 60)}`;
    t.equal(res.statusCode, 400, what);
    t.equal(res.json().code, 'PH_ERR_BAD_REQUEST', what);
    t.match(res.json().message, c.field, what);
    t.equal(fake.calls.length, before, `${what}: not called`);
  }
});

t.test("the collaboration layer's errors pass through unchanged", async (t) => {
  const { fake, app } = setup(t);
  fake.failNext(
    'invitation',
    new PeerhubError('PH_ERR_INVITATION_NOT_FOUND', 'no invitation 0bad', { statusCode: 404 }),
  );
  const missing = await app.inject({ method: 'GET', url: `/v1/invitations/${IN_INVITATION}` });
  t.equal(missing.statusCode, 404);
  t.same(missing.json(), {
    code: 'PH_ERR_INVITATION_NOT_FOUND',
    message: 'no invitation 0bad',
    statusCode: 404,
  });
  t.equal((await app.inject({ method: 'GET', url: `/v1/invitations/${IN_INVITATION}` })).statusCode, 200);

  fake.failNext(
    'hostRequest',
    new PeerhubError('PH_ERR_PEER_UNREACHABLE', 'Attic does not answer', { statusCode: 502 }),
  );
  const down = await app.inject({ method: 'POST', url: '/v1/host-requests', payload: { peer: 'Attic' } });
  t.same(down.json(), { code: 'PH_ERR_PEER_UNREACHABLE', message: 'Attic does not answer', statusCode: 502 });

  await app.inject({ method: 'POST', url: `/v1/invitations/${IN_INVITATION}/decline` });
  const twice = await app.inject({ method: 'POST', url: `/v1/invitations/${IN_INVITATION}/accept` });
  t.equal(twice.statusCode, 409);
  t.equal(twice.json().code, 'PH_ERR_INVITATION_CLOSED');
  const gone = await app.inject({ method: 'GET', url: '/v1/sessions/nope' });
  t.same(gone.json(), { code: 'PH_ERR_SESSION_NOT_FOUND', message: 'no session nope', statusCode: 404 });
  const long = 'f'.repeat(128);
  const longest = await app.inject({ method: 'GET', url: `/v1/invitations/${long}` });
  t.same(fake.calls.at(-1), { method: 'invitation', args: [long] }, 'ids up to 128 characters get through');
  t.equal(longest.json().code, 'PH_ERR_INVITATION_NOT_FOUND');
  const unknown = await app.inject({
    method: 'POST',
    url: '/v1/sessions/nope/messages',
    payload: { text: 'x' },
  });
  t.equal(unknown.statusCode, 404);
});

t.test('without a collaboration layer the routes do not exist', async (t) => {
  const app = buildControlApi(fakeAgent());
  t.teardown(() => app.close());
  for (const url of ['/v1/invitations', '/v1/sessions', '/v1/policy', '/v1/host-requests']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 404, url);
    t.equal(res.json().code, 'PH_ERR_NOT_FOUND');
  }
});
