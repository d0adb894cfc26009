import t, { type Test } from 'tap';
import { hostDecision, stepHostRequest } from '../../../firmware/collab/host-requests-machine.js';
import type { HostRequestEvents, HostRequests } from '../../../firmware/collab/host-requests-types.js';
import { createHostRequests, type HostRequestsInit } from '../../../firmware/collab/host-requests.js';
import { settle } from '../../../firmware/collab/invitations-wire.js';
import { ManualClock } from '../../../firmware/core/clock.js';
import { PeerhubError } from '../../../firmware/core/errors.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { BOB, HOST, T0 } from './invitations-helpers.js';

const flush = () => new Promise((r) => setImmediate(r));

function pair(t: Test, hostInit: HostRequestsInit = {}, contacts = new Set([BOB])) {
  const clock = new ManualClock(T0);
  const events: Record<string, string[]> = { [HOST]: [], [BOB]: [] };
  const svc: Record<string, HostRequests> = {};
  let down = false;
  const make = (me: string, init: HostRequestsInit, openSession?: () => Promise<string>) =>
    createHostRequests(
      {
        clock,
        logger: silentLogger(),
        bus: {
          emit<K extends keyof HostRequestEvents & string>(type: K, data: HostRequestEvents[K]) {
            events[me]!.push(`${type} ${data.request.state}`);
          },
        },
        isContact: (p) => contacts.has(p),
        openSession,
        transport: {
          async sendHostRequest(to, body) {
            if (down) throw new PeerhubError('PH_ERR_PEER_UNREACHABLE', 'connection refused');
            return settle(await svc[to]!.onHostRequest(me, body));
          },
          async sendHostAnswer(to, body) {
            settle(await svc[to]!.onHostAnswer(me, body));
          },
        },
      },
      init,
    );
  let sessions = 0;
  svc[HOST] = make(HOST, hostInit, async () => `session-${++sessions}`);
  svc[BOB] = make(BOB, {});
  t.teardown(() => Promise.all(Object.values(svc).map((s) => s.stop())));
  return { clock, events, host: svc[HOST]!, bob: svc[BOB]!, setDown: (d: boolean) => (down = d) };
}

t.test('machine: decisions, expiry, duplicates', async (t) => {
  t.equal(hostDecision('auto-contacts', true), 'accept');
  t.equal(hostDecision('auto-contacts', false), 'ask');
  t.equal(hostDecision('ask', true), 'ask');
  t.equal(hostDecision('never', true), 'decline');
  const body = { id: 'a'.repeat(32), message: 'host?' };
  const r = stepHostRequest(null, { type: 'received', peer: BOB, body, ttlMs: 1000 }, T0);
  t.match(r.state, { direction: 'in', state: 'pending', expiresAt: T0 + 1000 });
  t.same(
    r.effects.map((e) => e.type),
    ['emit', 'schedule'],
  );
  t.match(stepHostRequest(r.state, { type: 'received', peer: BOB, body, ttlMs: 1 }, T0), { duplicate: true });
  t.match(stepHostRequest(r.state, { type: 'received', peer: HOST, body, ttlMs: 1 }, T0).refused, {
    statusCode: 409,
  });
  const late = stepHostRequest(r.state, { type: 'answer', answer: 'accepted' }, T0 + 1000);
  t.match(late, { state: { state: 'expired' }, refused: { code: 'PH_ERR_HOST_REQUEST_CLOSED' } });
  t.same(
    late.effects.map((e) => e.type),
    ['emit', 'send-answer'],
    'the requester is told',
  );
  const a = stepHostRequest(r.state, { type: 'answer', answer: 'declined' }, T0 + 1);
  t.match(stepHostRequest(a.state, { type: 'answer', answer: 'accepted' }, T0 + 2).refused, {
    message: /already declined/,
  });
  const o = stepHostRequest(null, { type: 'create', peer: HOST, body, ttlMs: 1000 }, T0).state;
  t.same(stepHostRequest(o, { type: 'tick' }, T0 + 999).effects, []);
  t.same(
    stepHostRequest(o, { type: 'tick' }, T0 + 1000).effects.map((e) => e.type),
    ['emit', 'settle'],
  );
  t.match(stepHostRequest(o, { type: 'failed', reason: 'down' }, T0).state, {
    state: 'failed',
    reason: 'down',
  });
  t.match(stepHostRequest(o, { type: 'answer', answer: 'accepted' }, T0).refused, {
    message: /only the host/,
  });
});

t.test('auto-contacts: a contact is accepted at once with a session', async (t) => {
  const p = pair(t);
  await Promise.all([p.host.start(), p.bob.start()]);
  const outcome = await p.bob.request(HOST, { message: 'host a game?', appId: 'chess' });
  t.same(outcome, { state: 'accepted', sessionId: 'session-1', reason: 'by policy' });
  t.match(p.host.list({ direction: 'in' }), [
    { peer: BOB, state: 'accepted', appId: 'chess', sessionId: 'session-1' },
  ]);
  t.same(p.events[HOST], ['host-request:received pending', 'host-request:answered accepted']);
  t.same(p.events[BOB], ['host-request:answered accepted']);
});

t.test('ask: pending until the owner answers; the requester learns it', async (t) => {
  const p = pair(t, { policy: 'ask' });
  await Promise.all([p.host.start(), p.bob.start()]);
  let outcome: unknown;
  void p.bob.request(HOST, { message: 'please' }).then((o) => (outcome = o));
  await flush();
  const [req] = p.host.list({ state: 'pending' });
  t.ok(req);
  t.equal(outcome, undefined, 'waiting for the owner');
  await p.host.answer(req!.id, 'declined');
  await flush();
  t.same(outcome, { state: 'declined' });
  await t.rejects(p.host.answer(req!.id, 'accepted'), { code: 'PH_ERR_HOST_REQUEST_CLOSED' });
  t.throws(() => p.host.get('f'.repeat(32)), { code: 'PH_ERR_HOST_REQUEST_NOT_FOUND' });

  void p.bob.request(HOST, {}).then((o) => (outcome = o));
  await flush();
  p.clock.advance(5 * 60_000); // the owner never answers
  await flush();
  t.same(outcome, { state: 'expired', reason: 'no answer in time' }, 'told by the host');
  t.same(
    p.host.list({ direction: 'in' }).map((r) => r.state),
    ['declined', 'expired'],
  );
});

t.test('never, not a contact, unreachable host, silent host, hostile bodies, rate limit', async (t) => {
  const p = pair(t, { policy: 'never', rate: { burst: 3 } });
  await Promise.all([p.host.start(), p.bob.start()]);
  t.match(await p.bob.request(HOST, {}), { state: 'declined' });
  p.host.setPolicy('auto-contacts');
  t.equal(p.host.policy(), 'auto-contacts');
  t.throws(() => p.host.setPolicy('maybe' as never), { code: 'PH_ERR_BAD_REQUEST' });
  p.setDown(true);
  await t.rejects(p.bob.request(HOST, {}), { code: 'PH_ERR_PEER_UNREACHABLE' });
  t.match(p.bob.list({ state: 'failed' }), [{ reason: 'connection refused' }]);
  p.setDown(false);

  const bad = [
    null,
    [],
    { id: 'x', message: '' },
    { id: 'b'.repeat(32), message: 'x'.repeat(256) },
    { id: 'b'.repeat(32), message: '', more: 1 },
  ];
  for (const body of bad) {
    t.match(await p.host.onHostRequest(BOB, body), {
      ok: false,
      statusCode: 400,
      body: { code: 'PH_ERR_HOST_REQUEST_INVALID' },
    });
  }
  const stranger = 'Z'.repeat(51) + 'A';
  const body = { id: 'c'.repeat(32), message: '' };
  t.match(
    await p.host.onHostRequest(stranger, body),
    { ok: true, body: { state: 'pending' } },
    'a stranger is asked about',
  );
  t.match(
    await p.host.onHostRequest(stranger, body),
    { ok: true, body: { state: 'pending' } },
    'a duplicate',
  );
  t.match(await p.host.onHostRequest(stranger, { ...body, id: 'd'.repeat(32) }), { ok: true });
  t.match(await p.host.onHostRequest(stranger, { ...body, id: 'e'.repeat(32) }), { ok: true });
  t.match(await p.host.onHostRequest(stranger, { ...body, id: '1'.repeat(32) }), {
    ok: false,
    statusCode: 429,
  });
  t.match(await p.bob.onHostAnswer(stranger, { id: 'c'.repeat(32), state: 'accepted' }), { statusCode: 404 });
  t.match(await p.bob.onHostAnswer(HOST, { id: 'c'.repeat(32), state: 'maybe' }), { statusCode: 400 });

  const silent = pair(t, { policy: 'ask' });
  await silent.bob.start(); // the host's service is not running: it refuses, 503
  await t.rejects(silent.bob.request(HOST, {}), { code: 'PH_ERR_INTERNAL' });
  await silent.host.start();
  let outcome: unknown;
  void silent.bob.request(HOST, { timeoutMs: 1000 }).then((o) => (outcome = o));
  await flush();
  silent.clock.advance(1000);
  await flush();
  t.same(outcome, { state: 'expired', reason: 'no answer in time' }, 'the requester times out');
});
