import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { parseInvitationBody, settle } from '../../../firmware/collab/invitations-wire.js';
import { BOB, CAROL, HOST, network, types } from './invitations-helpers.js';

const good = { id: 'c'.repeat(32), sessionId: 'sess-1', message: 'hi', expiresInMs: 60_000 };
const STRANGER = 'Z'.repeat(51) + 'A';

t.test('hostile invitation bodies are refused with codes, and nothing is stored', async (t) => {
  const net = network(t);
  const b = await net.hub(BOB);
  const bad: Array<[string, unknown]> = [
    ['not an object', 'hello'],
    ['an array', [good]],
    ['null', null],
    ['unknown field', { ...good, admin: true }],
    ['id not hex', { ...good, id: 'Z'.repeat(32) }],
    ['id short', { ...good, id: 'abc' }],
    ['id a number', { ...good, id: 1234 }],
    ['message too long', { ...good, message: 'x'.repeat(256) }],
    ['message of 256 emoji', { ...good, message: '😀'.repeat(256) }],
    ['message a number', { ...good, message: 5 }],
    ['data too large', { ...good, data: Buffer.alloc(16 * 1024 + 1).toString('base64') }],
    ['data not base64', { ...good, data: 'not base64!' }],
    ['data an object', { ...good, data: { a: 1 } }],
    ['expiry over an hour', { ...good, expiresInMs: 3_600_001 }],
    ['expiry a string', { ...good, expiresInMs: '60000' }],
    ['expiry negative', { ...good, expiresInMs: -5 }],
    ['session id with spaces', { ...good, sessionId: 'a b' }],
    ['session id missing', { ...good, sessionId: undefined }],
    ['app id too long', { ...good, appId: 'a'.repeat(129) }],
  ];
  for (const [what, body] of bad) {
    const r = await b.service.onInvitation(HOST, body);
    t.match(
      r,
      { ok: false, statusCode: 400, body: { code: 'PH_ERR_INVITATION_INVALID', statusCode: 400 } },
      what,
    );
  }
  t.same(b.service.list(), []);
  t.same(types(b), []);
  t.notOk(
    existsSync(b.file) && JSON.parse(readFileSync(b.file, 'utf8')).invitations.length > 0,
    'nothing on disk',
  );

  const max = { ...good, message: '😀'.repeat(255), data: Buffer.alloc(16 * 1024).toString('base64') };
  t.match(await b.service.onInvitation(HOST, max), { ok: true }, 'the limits themselves are fine');
  t.same(parseInvitationBody({ ...good, appId: 'app' }), { ...good, data: '', appId: 'app' });
});

t.test('policy: strangers refused, contacts rate limited, nobody mode', async (t) => {
  const net = network(t);
  const b = await net.hub(BOB);
  t.match(await b.service.onInvitation(STRANGER, good), {
    ok: false,
    statusCode: 403,
    body: { code: 'PH_ERR_INVITE_FORBIDDEN' },
  });
  for (let i = 0; i < 5; i++) {
    const r = await b.service.onInvitation(HOST, { ...good, id: String(i).repeat(32) });
    t.ok(r.ok, `burst ${i}`);
  }
  const limited = await b.service.onInvitation(HOST, { ...good, id: '9'.repeat(32) });
  t.match(limited, {
    ok: false,
    statusCode: 429,
    body: { code: 'PH_ERR_RATE_LIMITED', message: /retry in \d+ s/ },
  });
  t.ok((await b.service.onInvitation(CAROL, { ...good, id: 'd'.repeat(32) })).ok, 'per inviter');
  t.ok(
    (await b.service.onInvitation(HOST, { ...good, id: '0'.repeat(32) })).ok,
    'a duplicate is not rate limited',
  );
  net.clock.advance(6000); // 10 a minute: one token every 6 s
  t.ok((await b.service.onInvitation(HOST, { ...good, id: '9'.repeat(32) })).ok, 'refilled');
  b.policy.set({ mode: 'nobody' });
  t.match(await b.service.onInvitation(CAROL, { ...good, id: 'e'.repeat(32) }), { statusCode: 403 });
  t.equal(b.service.list().length, 7);
});

t.test('answers and cancels only from the right peer; bounded pending; invite() validation', async (t) => {
  const net = network(t);
  const [h, b] = await Promise.all([net.hub(HOST), net.hub(BOB, { maxPendingIn: 1 })]);
  const [inv] = await h.service.invite([BOB], { sessionId: 's', message: '' });
  await net.quiet();
  const id = inv!.id;
  t.match(
    await h.service.onAnswer(CAROL, { id, answer: 'accepted' }),
    { statusCode: 404 },
    'not your invitation',
  );
  t.match(await h.service.onAnswer(BOB, { id, answer: 'maybe' }), { statusCode: 400 });
  t.match(await h.service.onAnswer(BOB, { id, answer: 'accepted', extra: 1 }), { statusCode: 400 });
  t.match(await b.service.onCancel(CAROL, { id }), { statusCode: 404 }, 'only the host cancels');
  t.match(await b.service.onCancel(HOST, { id: 'nope' }), { statusCode: 400 });
  t.same(await b.service.onCancel(HOST, { id: 'f'.repeat(32) }), {
    ok: true,
    statusCode: 200,
    body: { state: 'cancelled' },
  });
  t.equal(h.service.get(id).state, 'pending');
  t.equal(b.service.get(id).state, 'pending');
  t.match(await b.service.onInvitation(HOST, { ...good }), { statusCode: 429 }, 'too many pending');

  const opts = { sessionId: 's', message: '' };
  await t.rejects(h.service.invite(['not-a-peer'], opts), { code: 'PH_ERR_INVITATION_INVALID' });
  await t.rejects(h.service.invite([], opts), { code: 'PH_ERR_INVITATION_INVALID' });
  await t.rejects(h.service.invite([BOB], { ...opts, message: 'x'.repeat(256) }), {
    code: 'PH_ERR_INVITATION_INVALID',
  });
  await t.rejects(h.service.invite([BOB], { ...opts, expiresInMs: 3_600_001 }), {
    code: 'PH_ERR_INVITATION_INVALID',
  });
  await t.rejects(h.service.invite([BOB], { ...opts, data: '***' }), { code: 'PH_ERR_INVITATION_INVALID' });
  t.equal(h.service.list().length, 1);
  t.throws(
    () =>
      settle({
        ok: false,
        statusCode: 403,
        body: { code: 'PH_ERR_FORBIDDEN', message: 'no', statusCode: 403 },
      }),
    {
      code: 'PH_ERR_FORBIDDEN',
    },
  );
});
