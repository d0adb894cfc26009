import t from 'tap';
import { INITIAL, onSubnet, step } from '../../../firmware/me/machine.js';
import type { LocalPresenceState } from '../../../firmware/me/types.js';

const fx = (r: { effects: Array<{ type: string }> }): string[] => r.effects.map((e) => e.type);

t.test('status change while on the subnet: persist, announce, seq+1', async (t) => {
  const r = step(INITIAL, { type: 'set', status: 'Busy', text: 'call' });
  t.same(fx(r), ['persist', 'announce']);
  t.match(r.state, { status: 'Busy', text: 'call', seq: INITIAL.seq + 1, scope: 'NearMe' });
});

t.test('setting the same status and text changes nothing', async (t) => {
  const r = step(INITIAL, { type: 'set', status: 'Online' });
  t.equal(r.state, INITIAL);
  t.same(fx(r), []);
});

t.test('text is kept when only the status changes', async (t) => {
  const a = step(INITIAL, { type: 'set', status: 'Away', text: 'lunch' }).state;
  t.equal(step(a, { type: 'set', status: 'Online' }).state.text, 'lunch');
});

t.test('sign out withdraws once; sign in again announces', async (t) => {
  const out = step(INITIAL, { type: 'signout' });
  t.same(fx(out), ['persist', 'withdraw']);
  t.equal(out.state.scope, 'None');
  t.same(fx(step(out.state, { type: 'signout' })), [], 'second sign-out is a no-op');
  const back = step(out.state, { type: 'signin', scope: 'All' });
  t.same(fx(back), ['persist', 'announce']);
});

t.test('presence changes while signed out are kept, not announced', async (t) => {
  const off: LocalPresenceState = { ...INITIAL, scope: 'None' };
  t.same(fx(step(off, { type: 'set', status: 'Busy' })), ['persist']);
  const internet: LocalPresenceState = { ...INITIAL, scope: 'Internet' };
  t.same(fx(step(internet, { type: 'set', status: 'Busy' })), ['persist']);
});

t.test('moving from NearMe to Internet leaves the subnet', async (t) => {
  t.same(fx(step(INITIAL, { type: 'signin', scope: 'Internet' })), ['persist', 'withdraw']);
  t.same(fx(step(INITIAL, { type: 'signin', scope: 'NearMe' })), ['announce'], 'same scope re-announces');
});

t.test('scopes on the subnet', async (t) => {
  t.same((['None', 'NearMe', 'Internet', 'All'] as const).map(onSubnet), [false, true, false, true]);
});
