import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportContact } from '../../../firmware/contacts/index.js';
import { createContactsControl } from '../../../firmware/contacts/views.js';
import { buildControlApi } from '../../../firmware/control/app.js';
import type { NearbyPeer } from '../../../firmware/presence/types.js';
import { cardOf, hub, person } from '../contacts/helpers.js';
import { fakeAgent } from './fake-agent.js';

// The contact routes over a real contact manager on real files (inject, no sockets).
const me = await person();
const bob = await person();
const carol = await person();
const dir = mkdtempSync(join(tmpdir(), 'ph-ctl-contacts-'));
const h = await hub(dir, me, 'Me');
const carolNearby: NearbyPeer = {
  instance: 'Carol',
  id: carol.peerId,
  nickname: 'Carol',
  status: 'Online',
  seq: 1,
  host: 'peerhub-carol.local',
  port: 7443,
  endpoints: ['10.77.0.9:7443'],
  wellFormed: true,
  txt: {},
  firstSeen: 0,
  lastSeen: 0,
};
const followed: string[] = [];
const control = createContactsControl({
  manager: h.manager,
  live: (id) =>
    id === bob.peerId ? { online: true, presence: { status: 'Busy', text: 'call', seq: 4 } } : null,
  nearby: () => [carolNearby],
  fetchCard: async () => cardOf(carol, 'Carol'),
  follow: (id) => followed.push(id),
});
const app = buildControlApi({ ...fakeAgent(), contacts: control });
t.teardown(() => app.close());
const xml = (body: string) =>
  app.inject({
    method: 'POST',
    url: '/v1/contacts/import',
    payload: body,
    headers: { 'content-type': 'application/xml' },
  });

t.test('import a contact file, list and show it with live presence', async (t) => {
  const res = await xml(exportContact(cardOf(bob, 'Bob', { email: 'bob@example.org' })));
  t.equal(res.statusCode, 201, res.body);
  t.match(res.json(), {
    id: bob.peerId,
    nickname: 'Bob',
    verified: false,
    online: true,
    presence: { status: 'Busy' },
  });
  const list = (await app.inject({ method: 'GET', url: '/v1/contacts' })).json();
  t.same(
    list.map((c: { nickname: string }) => c.nickname),
    ['Bob'],
  );
  const shown = (await app.inject({ method: 'GET', url: `/v1/contacts/${bob.peerId.slice(0, 7)}` })).json();
  t.match(shown, { id: bob.peerId, email: 'bob@example.org', endpoints: [] });
});

t.test('verify: the same code as the other side computes, then confirm', async (t) => {
  const code = (await app.inject({ method: 'GET', url: '/v1/contacts/Bob/verify' })).json();
  t.match(code, { id: bob.peerId, verified: false });
  t.match(code.code, /^\d{4}-\d{4}-\d{4}$/);
  const bobSide = await hub(mkdtempSync(join(tmpdir(), 'ph-ctl-bob-')), bob, 'Bob');
  await bobSide.manager.add(cardOf(me, 'Me'));
  t.equal(bobSide.manager.verificationCodeFor('Me'), code.code, 'both hubs show one code');
  const ok = await app.inject({ method: 'POST', url: '/v1/contacts/Bob/verify' });
  t.equal(ok.json().verified, true);
  const sub = await app.inject({ method: 'POST', url: '/v1/contacts/Bob/subscribe' });
  t.equal(sub.json().id, bob.peerId);
  t.same(followed, [bob.peerId], 'subscribe asks to follow the contact now');
});

t.test('update, block, export, remove', async (t) => {
  const up = await app.inject({
    method: 'PATCH',
    url: '/v1/contacts/Bob',
    payload: { displayName: 'Bob B.', endpoints: ['bob.example.org:7443'] },
  });
  t.match(up.json(), { displayName: 'Bob B.', endpoints: ['bob.example.org:7443'] });
  const blocked = await app.inject({
    method: 'PUT',
    url: '/v1/contacts/Bob/subscription',
    payload: { subscription: 'blocked' },
  });
  t.equal(blocked.json().subscription, 'blocked');
  const exp = await app.inject({ method: 'GET', url: '/v1/contacts/Bob/export' });
  t.match(exp.headers['content-type'], /application\/xml/);
  t.match(exp.body, /<peerhubContact version="1">/);
  t.match(exp.body, /<displayName>Bob B\.<\/displayName>/);
  const mine = await app.inject({ method: 'GET', url: '/v1/me/contact' });
  t.match(mine.body, new RegExp(`<peerId>${me.peerId}</peerId>`));
  const gone = await app.inject({ method: 'DELETE', url: '/v1/contacts/Bob' });
  t.equal(gone.json().nickname, 'Bob');
  t.equal((await app.inject({ method: 'GET', url: '/v1/contacts/Bob' })).statusCode, 404);
});

t.test('add from People Near Me by nickname', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/v1/contacts/nearby', payload: { peer: 'carol' } });
  t.equal(res.statusCode, 201, res.body);
  t.equal(res.json().id, carol.peerId);
  const none = await app.inject({ method: 'POST', url: '/v1/contacts/nearby', payload: { peer: 'Dave' } });
  t.equal(none.statusCode, 404);
  t.match(none.json().message, /no peer near me matches "Dave"/);
});

t.test('hostile or wrong input changes nothing', async (t) => {
  const before = readFileSync(h.file, 'utf8');
  const hostile = readFileSync(new URL('../contacts/fixtures/billion-laughs.xml', import.meta.url), 'utf8');
  const r1 = await xml(hostile);
  t.ok(r1.statusCode >= 400 && r1.statusCode < 500, `hostile XML: ${r1.statusCode}`);
  t.match(r1.json().code, /^PH_ERR_/);
  const r2 = await xml('x'.repeat(70_000));
  t.equal(r2.statusCode, 413, 'over 64 KB');
  const r3 = await app.inject({ method: 'POST', url: '/v1/contacts/import', payload: { xml: 'no' } });
  t.equal(r3.statusCode, 415);
  const r4 = await app.inject({ method: 'PATCH', url: '/v1/contacts/Carol', payload: { colour: 'red' } });
  t.equal(r4.statusCode, 400);
  const r5 = await app.inject({
    method: 'PATCH',
    url: '/v1/contacts/Carol',
    payload: { email: 'not an address' },
  });
  t.equal(r5.statusCode, 400, r5.body);
  const r6 = await app.inject({
    method: 'PUT',
    url: '/v1/contacts/Carol/subscription',
    payload: { subscription: 'maybe' },
  });
  t.equal(r6.statusCode, 400);
  t.equal(readFileSync(h.file, 'utf8'), before, 'contacts.json unchanged');
});
