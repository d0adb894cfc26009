import t from 'tap';
import { checkMode, createInvitePolicy, decide, effectiveMode } from '../../../firmware/collab/policy.js';
import { ManualClock } from '../../../firmware/core/clock.js';

const T0 = 1_700_000_000_000;
const who = { isContact: (p: string) => p === 'friend', isNearby: (p: string) => p === 'neighbour' };

t.test('decide: contacts, nearby window, nobody', async (t) => {
  const contacts = { mode: 'contacts' } as const;
  t.equal(decide(contacts, 'friend', T0, who), null);
  t.match(decide(contacts, 'neighbour', T0, who), {
    code: 'PH_ERR_INVITE_FORBIDDEN',
    message: /contacts only/,
  });
  const nearby = { mode: 'nearby', until: T0 + 600_000 } as const;
  t.equal(decide(nearby, 'neighbour', T0, who), null);
  t.equal(decide(nearby, 'friend', T0, who), null, 'contacts too');
  t.match(decide(nearby, 'far-away', T0, who), { code: 'PH_ERR_INVITE_FORBIDDEN', message: /subnet/ });
  t.match(decide(nearby, 'neighbour', T0 + 600_000, who), { code: 'PH_ERR_INVITE_FORBIDDEN' }, 'window over');
  t.same(effectiveMode(nearby, T0 + 600_000), { mode: 'contacts' });
  t.match(decide({ mode: 'nobody' }, 'friend', T0, who), { code: 'PH_ERR_INVITE_FORBIDDEN' });
});

t.test('checkMode: owner input', async (t) => {
  t.same(checkMode({ mode: 'nobody' }, T0), { mode: 'nobody' });
  t.same(checkMode({ mode: 'nearby' }, T0), { mode: 'nearby', until: T0 + 600_000 }, '10 minutes by default');
  t.same(checkMode({ mode: 'nearby', until: T0 + 3_600_000 }, T0), { mode: 'nearby', until: T0 + 3_600_000 });
  for (const bad of [
    null,
    {},
    { mode: 'everyone' },
    { mode: 'nearby', until: T0 },
    { mode: 'nearby', until: T0 + 3_600_001 },
  ]) {
    t.throws(() => checkMode(bad, T0), { code: 'PH_ERR_BAD_REQUEST' }, JSON.stringify(bad));
  }
});

t.test(
  'policy service: rate limit per inviter (burst 5, 10 a minute), window expiry by the clock',
  async (t) => {
    const clock = new ManualClock(T0);
    const p = createInvitePolicy({ clock, ...who }, { mode: { mode: 'nearby', until: T0 + 60_000 } });
    for (let i = 0; i < 5; i++) t.equal(p.check('neighbour'), null);
    t.match(p.check('neighbour'), { code: 'PH_ERR_RATE_LIMITED' });
    t.equal(p.check('friend'), null, 'another inviter has its own bucket');
    clock.advance(6000);
    t.equal(p.check('neighbour'), null, 'one token per 6 s');
    t.match(p.check('neighbour'), { code: 'PH_ERR_RATE_LIMITED' });
    t.match(p.check('stranger'), { code: 'PH_ERR_INVITE_FORBIDDEN' }, 'forbidden before rate');
    clock.advance(60_000);
    t.same(p.get(), { mode: 'contacts' }, 'back to contacts when the window ends');
    t.match(p.check('neighbour'), { code: 'PH_ERR_INVITE_FORBIDDEN' });
    p.set({ mode: 'nobody' });
    t.match(p.check('friend'), { code: 'PH_ERR_INVITE_FORBIDDEN' });
    const custom = createInvitePolicy({ clock, ...who }, { rate: { perMinute: 60, burst: 1 } });
    t.equal(custom.check('friend'), null);
    t.match(custom.check('friend'), { code: 'PH_ERR_RATE_LIMITED' });
    t.same(custom.get(), { mode: 'contacts' }, 'contacts by default');
  },
);
