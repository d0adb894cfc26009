import t from 'tap';
import { PeerhubError } from '../../../firmware/core/errors.js';
import {
  classify,
  initialVerifyState,
  retryDelay,
  step,
  type VerifyState,
} from '../../../firmware/nearby/machine.js';

const cfg = { retryMs: 30_000, maxAttempts: 3 };
const fx = (r: { effects: Array<{ type: string }> }): string[] => r.effects.map((e) => e.type);

function checking(now = 0): VerifyState {
  const s = step(initialVerifyState(now), { type: 'begin' }, now, cfg).state;
  if (!s) throw new Error('no state');
  return s;
}

t.test('queued → checking (with a token) → verified', async (t) => {
  const begin = step(initialVerifyState(0), { type: 'begin' }, 5, cfg);
  t.same(begin.effects, [{ type: 'check', token: 1 }]);
  t.match(begin.state, { phase: 'checking', token: 1, since: 5 });
  const done = step(begin.state!, { type: 'result', token: 1, outcome: { kind: 'verified' } }, 9, cfg);
  t.same(fx(done), ['verified']);
  t.match(done.state, { phase: 'verified', attempts: 0, since: 9 });
});

t.test('a stale result (other token, or not checking) changes nothing', async (t) => {
  const s = checking();
  const r = step(s, { type: 'result', token: 7, outcome: { kind: 'verified' } }, 1, cfg);
  t.equal(r.state, s);
  t.same(r.effects, []);
  const q = initialVerifyState(0);
  t.equal(step(q, { type: 'result', token: 0, outcome: { kind: 'verified' } }, 1, cfg).state, q);
});

t.test('spoof is a proof: recorded with the presented id, no retry', async (t) => {
  const r = step(
    checking(),
    { type: 'result', token: 1, outcome: { kind: 'spoof', presented: 'M' } },
    1,
    cfg,
  );
  t.same(r.effects, [{ type: 'spoof', presented: 'M' }]);
  t.match(r.state, { phase: 'spoof', presented: 'M', retryAt: null });
  t.same(fx(step(r.state!, { type: 'retry' }, 1e9, cfg)), [], 'no timer brings it back');
});

t.test('unreachable: back-off doubles, then gives up after maxAttempts', async (t) => {
  let s = checking(0);
  const delays: number[] = [];
  let now = 0;
  for (let i = 1; i <= 3; i++) {
    const r = step(
      s,
      { type: 'result', token: s.token, outcome: { kind: 'failed', reason: 'refused' } },
      now,
      cfg,
    );
    s = r.state!;
    t.equal(s.phase, 'unreachable');
    t.equal(s.attempts, i);
    if (i < 3) {
      t.same(fx(r), ['schedule']);
      delays.push(s.retryAt! - now);
      const early = step(s, { type: 'retry' }, s.retryAt! - 1, cfg);
      t.same(early.effects, [{ type: 'schedule', at: s.retryAt }], 'a timer that fired early waits again');
      t.equal(early.state, s, '…and does not check before it is due');
      now = s.retryAt!;
      const q = step(s, { type: 'retry' }, now, cfg);
      t.same(fx(q), ['enqueue']);
      s = step(q.state!, { type: 'begin' }, now, cfg).state!;
    } else {
      t.same(fx(r), [], 'gave up');
      t.equal(s.retryAt, null);
    }
  }
  t.same(delays, [30_000, 60_000]);
  t.equal(retryDelay(10, 30_000), 480_000, 'capped at 16×');
  const again = step(s, { type: 'seen' }, now, cfg);
  t.same(fx(again), ['cancel', 'enqueue'], 'found again: checked again');
  t.match(again.state, { phase: 'queued', attempts: 0 });
});

t.test('seen while queued or checking is absorbed; seen after a result re-checks', async (t) => {
  const q = initialVerifyState(0);
  t.same(fx(step(q, { type: 'seen' }, 1, cfg)), []);
  t.same(fx(step(checking(), { type: 'seen' }, 1, cfg)), []);
  const v = step(checking(), { type: 'result', token: 1, outcome: { kind: 'verified' } }, 1, cfg).state!;
  t.match(step(v, { type: 'seen' }, 2, cfg).state, { phase: 'queued' });
});

t.test('lost ends the machine and cancels its timer', async (t) => {
  const r = step(checking(), { type: 'lost' }, 1, cfg);
  t.equal(r.state, null);
  t.same(fx(r), ['cancel']);
});

t.test('classify', async (t) => {
  t.same(classify('A', { ok: true, proven: 'A' }), { kind: 'verified' });
  t.match(classify('A', { ok: true, proven: 'B' }), { kind: 'failed', reason: /another/ });
  t.match(classify('A', { ok: true, proven: undefined }), { kind: 'failed' });
  const spoof = new PeerhubError('PH_ERR_PEER_SPOOF', 'h:1 presented peer id MMM, expected A');
  t.same(classify('A', { ok: false, error: spoof }), { kind: 'spoof', presented: 'MMM' });
  t.same(classify('A', { ok: false, error: Object.assign(spoof, { presented: 'XYZ' }) }), {
    kind: 'spoof',
    presented: 'XYZ',
  });
  t.same(classify('A', { ok: false, error: new PeerhubError('PH_ERR_PEER_TIMEOUT') }), {
    kind: 'failed',
    reason: 'PH_ERR_PEER_TIMEOUT',
    busy: true,
  });
  t.same(classify('A', { ok: false, error: new Error('boom') }), { kind: 'failed', reason: 'boom' });
});

t.test('a check that got no answer in time backs off longer than a refused one', async (t) => {
  const quick = { retryMs: 3000, busyRetryMs: 30_000, maxAttempts: 8 };
  const failOnce = (outcome: { kind: 'failed'; reason: string; busy?: boolean }): number | null => {
    let s = initialVerifyState(0);
    s = step(s, { type: 'begin' }, 0, quick).state!;
    return step(s, { type: 'result', token: s.token, outcome }, 1000, quick).state!.retryAt;
  };
  t.equal(failOnce({ kind: 'failed', reason: 'PH_ERR_PEER_UNREACHABLE' }), 4000, 'refused: the quick retry');
  t.equal(failOnce({ kind: 'failed', reason: 'PH_ERR_PEER_TIMEOUT', busy: true }), 31_000, 'busy: 30 s');
  t.equal(
    failOnce(classify('A', { ok: false, error: new PeerhubError('PH_ERR_PEER_TIMEOUT') }) as never),
    31_000,
    'a PeerClient time-out is busy',
  );
});
