import t from 'tap';
import {
  deadline,
  stepInvitation,
  type InvitationEvent,
} from '../../../firmware/collab/invitations-machine.js';
import type { Invitation } from '../../../firmware/collab/types.js';

const T0 = 1_700_000_000_000;
const ID = 'a'.repeat(32);
const HOST = 'HOST';
const GUEST = 'GUEST';
const types = (fx: Array<{ type: string; event?: string }>) =>
  fx.map((f) => (f.event ? `emit ${f.event}` : f.type));

function out(): Invitation {
  const ev: InvitationEvent = {
    type: 'create',
    id: ID,
    sessionId: 's1',
    peer: GUEST,
    message: 'hi',
    data: '',
    ttlMs: 60_000,
  };
  return stepInvitation(null, ev, T0).state as Invitation;
}
function inbound(): Invitation {
  const body = { id: ID, sessionId: 's1', message: 'hi', expiresInMs: 60_000 };
  return stepInvitation(null, { type: 'received', peer: HOST, body }, T0 + 5).state as Invitation;
}

t.test('host: create → delivered → answerReceived', async (t) => {
  const ev: InvitationEvent = {
    type: 'create',
    id: ID,
    sessionId: 's1',
    peer: GUEST,
    message: 'hi',
    data: '',
    ttlMs: 60_000,
  };
  const c = stepInvitation(null, ev, T0);
  t.match(c.state, {
    id: ID,
    direction: 'out',
    state: 'pending',
    delivery: 'sending',
    createdAt: T0,
    expiresAt: T0 + 60_000,
  });
  t.same(c.effects, [
    { type: 'persist' },
    { type: 'send-invitation' },
    { type: 'schedule', at: T0 + 60_000 },
  ]);
  t.match(stepInvitation(c.state, ev, T0).refused, { code: 'PH_ERR_INVITATION_INVALID' }, 'id reuse refused');

  const d = stepInvitation(c.state, { type: 'delivered' }, T0 + 10);
  t.equal(d.state?.delivery, 'delivered');
  t.same(types(d.effects), ['persist', 'emit invitation:sent']);
  t.same(stepInvitation(d.state, { type: 'delivered' }, T0 + 11).effects, [], 'delivered twice: nothing');

  const a = stepInvitation(d.state, { type: 'answerReceived', answer: 'accepted' }, T0 + 20);
  t.match(a.state, { state: 'accepted', answeredAt: T0 + 20 });
  t.same(types(a.effects), ['persist', 'emit invitation:answered']);
  t.same(
    stepInvitation(a.state, { type: 'answerReceived', answer: 'accepted' }, T0 + 21),
    { state: a.state, effects: [] },
    'repeat confirmed',
  );
  t.match(stepInvitation(a.state, { type: 'answerReceived', answer: 'declined' }, T0 + 21).refused, {
    code: 'PH_ERR_INVITATION_CLOSED',
    state: 'accepted',
  });
  t.match(stepInvitation(a.state, { type: 'cancel' }, T0 + 22).refused, {
    code: 'PH_ERR_INVITATION_CLOSED',
    statusCode: 409,
  });
  t.equal(deadline(a.state as Invitation), null);
});

t.test('host: cancel, tick/expiry, delivery failure, late answer', async (t) => {
  const c = stepInvitation(out(), { type: 'cancel' }, T0 + 1);
  t.match(c.state, { state: 'cancelled', delivery: 'sending', reason: 'cancelled by the host' });
  t.same(types(c.effects), ['persist', 'emit invitation:cancelled', 'send-cancel']);
  t.match(stepInvitation(c.state, { type: 'delivered' }, T0 + 2).state, {
    state: 'cancelled',
    delivery: 'delivered',
  });
  t.match(stepInvitation(c.state, { type: 'deliveryFailed', reason: 'x' }, T0 + 2).state, {
    state: 'cancelled',
    delivery: 'undeliverable',
  });
  t.match(
    stepInvitation(c.state, { type: 'answerReceived', answer: 'accepted' }, T0 + 3).refused,
    {
      code: 'PH_ERR_INVITATION_CLOSED',
      state: 'cancelled',
    },
    'crossing: the answer after the cancel is refused with "cancelled"',
  );

  t.same(stepInvitation(out(), { type: 'tick' }, T0 + 59_999).effects, [], 'not yet');
  const e = stepInvitation(out(), { type: 'tick' }, T0 + 60_000);
  t.match(e.state, { state: 'expired', delivery: 'undeliverable' }, 'expired while still sending');
  t.same(types(e.effects), ['persist', 'emit invitation:expired']);

  const late = stepInvitation(out(), { type: 'answerReceived', answer: 'accepted' }, T0 + 60_001);
  t.match(late.state, { state: 'expired' }, 'expires first');
  t.match(late.refused, { code: 'PH_ERR_INVITATION_CLOSED', state: 'expired' }, 'and refuses with expired');
  t.match(stepInvitation(out(), { type: 'cancel' }, T0 + 70_000).refused, { state: 'expired' });

  const f = stepInvitation(
    out(),
    { type: 'deliveryFailed', reason: 'PH_ERR_PEER_UNREACHABLE: down' },
    T0 + 9,
  );
  t.match(f.state, { state: 'failed', reason: 'PH_ERR_PEER_UNREACHABLE: down', delivery: 'undeliverable' });
  t.same(types(f.effects), ['persist', 'emit invitation:failed']);
  t.match(stepInvitation(f.state, { type: 'answerReceived', answer: 'accepted' }, T0 + 10).refused, {
    state: 'failed',
  });
  t.same(
    stepInvitation(out(), { type: 'answer', answer: 'accepted' }, T0).refused?.code,
    'PH_ERR_INVITATION_INVALID',
  );
  t.same(stepInvitation(out(), { type: 'cancelReceived' }, T0).effects, [], 'a host ignores cancels');
  t.same(stepInvitation(out(), { type: 'verdict', state: 'accepted' }, T0).effects, []);
});

t.test('invitee: received, duplicate, answer, verdicts', async (t) => {
  const r = inbound();
  t.match(r, {
    direction: 'in',
    peer: HOST,
    state: 'pending',
    delivery: 'delivered',
    data: '',
    expiresAt: T0 + 5 + 60_000,
  });
  const body = { id: ID, sessionId: 's1', message: 'hi', expiresInMs: 60_000 };
  const dup = stepInvitation(r, { type: 'received', peer: HOST, body }, T0 + 9);
  t.same(dup, { state: r, effects: [], duplicate: true }, 'a duplicate is acknowledged, not duplicated');
  t.match(stepInvitation(r, { type: 'received', peer: 'OTHER', body }, T0 + 9).refused, {
    code: 'PH_ERR_INVITATION_INVALID',
  });

  const a = stepInvitation(r, { type: 'answer', answer: 'declined' }, T0 + 100);
  t.match(a.state, { state: 'declined', delivery: 'sending', answeredAt: T0 + 100 });
  t.same(types(a.effects), ['persist', 'emit invitation:answered', 'send-answer', 'schedule']);
  t.equal(deadline(a.state as Invitation), T0 + 5 + 60_000 + 30_000, 'answer delivery has a grace');
  t.match(stepInvitation(a.state, { type: 'answer', answer: 'accepted' }, T0 + 101).refused, {
    code: 'PH_ERR_INVITATION_CLOSED',
    message: /already declined/,
  });
  const ok = stepInvitation(a.state, { type: 'verdict', state: 'declined' }, T0 + 102);
  t.match(ok.state, { state: 'declined', delivery: 'delivered' });
  t.same(ok.effects, [{ type: 'persist' }]);
  t.same(
    stepInvitation(ok.state, { type: 'cancelReceived' }, T0 + 103).effects,
    [],
    'confirmed answers stay',
  );

  const told = stepInvitation(a.state, { type: 'verdict', state: 'expired' }, T0 + 102);
  t.match(told.state, { state: 'expired', reason: 'the host recorded expired', delivery: 'delivered' });
  t.same(types(told.effects), ['persist', 'emit invitation:expired']);
  t.same(
    stepInvitation(a.state, { type: 'verdict', state: 'pending' }, T0).effects,
    [],
    'nonsense verdict ignored',
  );
  t.same(
    stepInvitation(r, { type: 'verdict', state: 'accepted' }, T0).effects,
    [],
    'no answer given: ignored',
  );
});

t.test('invitee: cancel, crossing, expiry, undeliverable answer', async (t) => {
  const c = stepInvitation(inbound(), { type: 'cancelReceived' }, T0 + 10);
  t.match(c.state, { state: 'cancelled' });
  t.same(types(c.effects), ['persist', 'emit invitation:cancelled']);
  t.match(stepInvitation(c.state, { type: 'answer', answer: 'accepted' }, T0 + 11).refused, {
    code: 'PH_ERR_INVITATION_CLOSED',
    message: /already cancelled/,
  });

  const answered = stepInvitation(inbound(), { type: 'answer', answer: 'accepted' }, T0 + 20).state;
  const crossed = stepInvitation(answered, { type: 'cancelReceived' }, T0 + 21);
  t.match(crossed.state, { state: 'cancelled' }, 'an unconfirmed answer yields to the crossing cancel');
  t.same(
    stepInvitation(crossed.state, { type: 'verdict', state: 'cancelled' }, T0 + 22).effects,
    [],
    'host agrees',
  );

  const exp = stepInvitation(inbound(), { type: 'tick' }, T0 + 5 + 60_000);
  t.match(exp.state, { state: 'expired', reason: 'not answered in time' });
  const late = stepInvitation(inbound(), { type: 'answer', answer: 'accepted' }, T0 + 5 + 60_000);
  t.match(late.state, { state: 'expired' });
  t.match(late.refused, { code: 'PH_ERR_INVITATION_CLOSED', state: 'expired' });

  t.same(stepInvitation(answered, { type: 'tick' }, T0 + 5 + 60_000).effects, [], 'answered: no expiry');
  const gaveUp = stepInvitation(answered, { type: 'tick' }, T0 + 5 + 90_000);
  t.match(gaveUp.state, { state: 'failed', delivery: 'undeliverable', reason: /answer not delivered/ });
  const df = stepInvitation(answered, { type: 'deliveryFailed', reason: 'down' }, T0 + 30);
  t.match(df.state, { state: 'failed', reason: 'answer not delivered: down' });
  t.same(stepInvitation(inbound(), { type: 'deliveryFailed', reason: 'x' }, T0).effects, []);
  t.match(stepInvitation(inbound(), { type: 'cancel' }, T0).refused, { code: 'PH_ERR_INVITATION_INVALID' });
  t.same(stepInvitation(null, { type: 'tick' }, T0), { state: null, effects: [] });
});
