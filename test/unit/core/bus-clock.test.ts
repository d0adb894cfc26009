import t from 'tap';
import { EventBus } from '../../../firmware/core/bus.js';
import { ManualClock } from '../../../firmware/core/clock.js';
import { PeerhubError, wrap } from '../../../firmware/core/errors.js';

t.test('bus: typed listeners, history since an id, bounded', async (t) => {
  const bus = new EventBus<{ a: number; b: string }>(() => 0, 3);
  const seen: number[] = [];
  const off = bus.on('a', (n) => seen.push(n));
  bus.emit('a', 1);
  bus.emit('b', 'x');
  off();
  bus.emit('a', 2);
  bus.emit('a', 3);
  t.same(seen, [1]);
  t.same(
    bus.since(0).map((e) => e.id),
    [2, 3, 4],
    'keeps the last 3',
  );
  t.same(
    bus.since(3).map((e) => e.data),
    [3],
  );
  t.equal(bus.lastId, 4);
});

t.test('manual clock fires timers in order, including ones set while firing', async (t) => {
  const c = new ManualClock(1000);
  const log: string[] = [];
  c.setTimer(50, () => {
    log.push(`a@${c.now()}`);
    c.setTimer(10, () => log.push(`c@${c.now()}`));
  });
  c.setTimer(20, () => log.push(`b@${c.now()}`));
  const x = c.setTimer(30, () => log.push('cancelled'));
  x.cancel();
  c.advance(100);
  t.same(log, ['b@1020', 'a@1050', 'c@1060']);
  t.equal(c.now(), 1100);
  t.equal(c.pending, 0);
});

t.test('errors carry a code and keep their cause', async (t) => {
  const cause = new Error('EACCES: permission denied');
  const e = wrap('PH_ERR_STORE_WRITE', 'write state', cause, 507);
  t.equal(e.message, 'write state: EACCES: permission denied');
  t.equal(e.cause, cause);
  t.same(e.toJSON(), { code: 'PH_ERR_STORE_WRITE', message: e.message, statusCode: 507 });
  t.ok(e instanceof PeerhubError);
});
