import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import { CpuTrace } from '../../../test/bench/cpu-trace.js';

// A child that burns one second of its own CPU, says so, then waits to be killed (bounded: 60 s).
const BURN = `
const t0 = Date.now();
const used = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
while (used() < 1 && Date.now() - t0 < 60000) for (let i = 0; i < 1e5; i++);
process.stdout.write('burnt\\n');
setTimeout(() => {}, 60000);
`;

/** The child started and traced; resolves once it has burnt its second (rejects if it ended first). */
async function burning(t: Test) {
  const child = spawn(process.execPath, ['-e', BURN], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill('SIGKILL'));
  const t0 = performance.now();
  const trace = new CpuTrace(() => (child.pid ? [child.pid] : []));
  t.teardown(() => trace.stop());
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('burnt') && resolve());
    child.once('exit', () => reject(new Error('the child ended before burning its second')));
  });
  return { child, t0, trace };
}

t.test('CpuTrace counts the CPU its processes used, and the machine too', async (t) => {
  const { t0, trace } = await burning(t);
  const used = trace.until(t0, performance.now());
  // /proc counts in ticks (10 ms): a second of CPU reads 0.9–1.1 with the child's start-up.
  t.ok(used.hubsCoreS >= 0.9 && used.hubsCoreS < 2, `the child's second of CPU (${used.hubsCoreS} core-s)`);
  t.ok(used.machineCoreS >= used.hubsCoreS - 0.05, `the machine includes it (${used.machineCoreS})`);
  t.ok(used.cores >= 1);
  t.ok(used.untilMs >= 500, `about the second it took (${used.untilMs} ms)`);
});

t.test('a process that ends keeps the CPU it had used at the last sample', async (t) => {
  const { child, t0, trace } = await burning(t);
  const before = trace.until(t0, performance.now()); // samples the child while it is alive
  child.removeAllListeners('exit');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const after = trace.until(t0, performance.now());
  t.equal(after.hubsCoreS, before.hubsCoreS, 'not lost when its /proc entry is gone');
});
