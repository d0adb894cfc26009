/**
 * systemClock.setTimer with a delay longer than Node's setTimeout holds (2^31 − 1 ms): Node would fire
 * it after 1 ms with a TimeoutOverflowWarning (a deadline in 2026 seen from a hub whose clock reads
 * 1970 — found by the faults torture, issue 7). It must wait instead, and stay cancellable.
 */
import t from 'tap';
import { MAX_TIMER_DELAY_MS, systemClock } from '../../../firmware/core/clock.js';

t.test('a delay beyond 2^31 − 1 ms does not fire at once, warns nothing, cancels', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  const keep = setInterval(() => undefined, 1000); // systemClock's timers do not hold the process open
  t.teardown(() => {
    process.off('warning', onWarning);
    clearInterval(keep);
  });
  let fired = 0;
  const far = systemClock.setTimer(56 * 365 * 24 * 3600_000, () => fired++);
  const edge = systemClock.setTimer(MAX_TIMER_DELAY_MS + 1, () => fired++);
  const soon = await new Promise<number>((resolve) => systemClock.setTimer(50, () => resolve(fired)));
  t.equal(soon, 0, 'neither fired within 50 ms');
  far.cancel();
  edge.cancel();
  await new Promise((r) => setImmediate(r));
  t.same(warnings, [], 'no TimeoutOverflowWarning');
  let near = 0;
  await new Promise<void>((resolve) =>
    systemClock.setTimer(5, () => {
      near++;
      resolve();
    }),
  );
  t.equal(near, 1, 'a short delay still fires');
});
