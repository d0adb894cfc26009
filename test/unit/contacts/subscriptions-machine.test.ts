import t from 'tap';
import {
  backoff,
  initialLink,
  stepLink,
  type LinkState,
} from '../../../firmware/contacts/subscriptions-machine.js';

const cfg = { minMs: 1000, maxMs: 30_000 };
const fx = (r: { effects: Array<{ type: string }> }): string[] => r.effects.map((e) => e.type);
const P = (seq: number, status: 'Online' | 'Busy' | 'Away' = 'Online') => ({ status, text: '', seq });

function online(): LinkState {
  const c = stepLink(initialLink(0), { type: 'start' }, 0, cfg).state;
  return stepLink(c, { type: 'connected', token: c.token, endpoint: 'h:1', presence: P(5) }, 1, cfg).state;
}

t.test('start → connecting (connect effect) → online with the snapshot', async (t) => {
  const r = stepLink(initialLink(0), { type: 'start' }, 0, cfg);
  t.same(r.effects, [{ type: 'connect', token: 1, since: null }]);
  t.same(fx(stepLink(r.state, { type: 'start' }, 0, cfg)), [], 'start is idempotent');
  const on = stepLink(r.state, { type: 'connected', token: 1, endpoint: 'h:1', presence: P(5) }, 3, cfg);
  t.same(on.effects, [{ type: 'online' }, { type: 'presence', presence: P(5) }]);
  t.match(on.state, { phase: 'online', since: 3, endpoint: 'h:1', presence: P(5), attempts: 0 });
});

t.test('pushed events: newer seq taken, stale ignored, event id remembered', async (t) => {
  const s = online();
  const busy = stepLink(s, { type: 'event', token: s.token, eventId: 9, presence: P(6, 'Busy') }, 2, cfg);
  t.same(busy.effects, [{ type: 'presence', presence: P(6, 'Busy') }]);
  t.match(busy.state, { lastEventId: 9 });
  const stale = stepLink(
    busy.state,
    { type: 'event', token: s.token, eventId: 10, presence: P(4, 'Away') },
    3,
    cfg,
  );
  t.same(fx(stale), []);
  t.match(stale.state, { presence: P(6, 'Busy'), lastEventId: 10 });
  t.same(
    fx(stepLink(s, { type: 'event', token: 99, eventId: 11, presence: P(7) }, 3, cfg)),
    [],
    'other token',
  );
});

t.test('ended while online: offline at once, reconnects with back-off and since=<last>', async (t) => {
  let s = stepLink(online(), { type: 'event', token: 1, eventId: 4, presence: null }, 1, cfg).state;
  const off = stepLink(s, { type: 'ended', reason: 'unreachable' }, 10, cfg);
  t.same(fx(off), ['close', 'offline', 'schedule']);
  t.match(off.state, { phase: 'offline', retryAt: 1010, reason: 'unreachable', presence: P(5) });
  t.same(fx(stepLink(off.state, { type: 'ended', reason: 'again' }, 11, cfg)), [], 'reported once');
  s = off.state;
  const delays: number[] = [];
  let now = 10;
  for (let i = 0; i < 7; i++) {
    delays.push(s.retryAt! - now);
    const early = stepLink(s, { type: 'retry' }, s.retryAt! - 1, cfg);
    t.same(early.effects, [{ type: 'schedule', at: s.retryAt }], 'a timer that fired early waits again');
    t.equal(early.state, s, '…and does not connect before it is due');
    now = s.retryAt!;
    const c = stepLink(s, { type: 'retry' }, now, cfg);
    t.match(c.effects, [{ type: 'connect', since: 4 }]);
    s = stepLink(
      c.state,
      { type: 'failed', token: c.state.token, reason: 'refused', forbidden: false },
      now,
      cfg,
    ).state;
  }
  t.same(delays, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  t.equal(backoff(1, cfg), 1000);
});

t.test('a new connection’s snapshot wins even with a lower seq (the hub was reset)', async (t) => {
  const s = stepLink(online(), { type: 'ended', reason: 'x' }, 1, cfg).state;
  const c = stepLink(s, { type: 'poke' }, 2, cfg);
  t.same(fx(c), ['cancel', 'connect']);
  const r = stepLink(
    c.state,
    { type: 'connected', token: c.state.token, endpoint: 'h:2', presence: P(1, 'Away') },
    3,
    cfg,
  );
  t.match(r.state.presence, P(1, 'Away'));
  const same = stepLink(
    r.state,
    { type: 'event', token: c.state.token, eventId: null, presence: P(1, 'Away') },
    4,
    cfg,
  );
  t.same(fx(same), []);
});

t.test('forbidden: retried slowly; a poke does not hurry it', async (t) => {
  const c = stepLink(initialLink(0), { type: 'start' }, 0, cfg).state;
  const f = stepLink(c, { type: 'failed', token: 1, reason: 'forbidden', forbidden: true }, 5, cfg);
  t.match(f.state, { phase: 'forbidden', retryAt: 30_005 });
  t.same(fx(f), ['close', 'schedule']);
  t.same(fx(stepLink(f.state, { type: 'poke' }, 6, cfg)), []);
  t.same(fx(stepLink(f.state, { type: 'retry' }, 30_005, cfg)), ['connect']);
});

t.test('stop: closes, cancels, tells offline only if it was online; stale callbacks ignored', async (t) => {
  const s = online();
  const r = stepLink(s, { type: 'stop', reason: 'unfollowed' }, 9, cfg);
  t.same(fx(r), ['cancel', 'close', 'offline']);
  t.match(r.state, { phase: 'idle', presence: null });
  t.same(
    fx(stepLink(r.state, { type: 'connected', token: s.token, endpoint: 'x', presence: P(9) }, 9, cfg)),
    [],
  );
  t.same(fx(stepLink(r.state, { type: 'ended', token: s.token, reason: 'x' }, 9, cfg)), []);
  const c = stepLink(initialLink(0), { type: 'start' }, 0, cfg).state;
  t.same(fx(stepLink(c, { type: 'stop', reason: 'blocked' }, 1, cfg)), ['cancel', 'close']);
  t.same(fx(stepLink(initialLink(0), { type: 'stop', reason: 'x' }, 1, cfg)), []);
});

t.test('welcome (the contact subscribed to us) retries a refused link at once', async (t) => {
  const c = stepLink(initialLink(0), { type: 'start' }, 0, cfg).state;
  const f = stepLink(c, { type: 'failed', token: 1, reason: 'forbidden', forbidden: true }, 5, cfg).state;
  t.equal(f.phase, 'forbidden');
  const w = stepLink(f, { type: 'welcome' }, 10, cfg);
  t.equal(w.state.phase, 'connecting');
  t.ok(w.effects.some((e) => e.type === 'cancel'));
  const online = stepLink(initialLink(0), { type: 'start' }, 0, cfg).state;
  t.equal(stepLink(online, { type: 'welcome' }, 1, cfg).state, online, 'no effect while connecting');
});
