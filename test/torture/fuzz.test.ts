/**
 * The fuzzing subset CI runs: every target for a small fixed number of inputs with a fixed seed, no
 * crash and no hang allowed; and proof that the engine can fail (a planted bug it must find, minimise
 * and name; a planted slow input it must report as a hang). Unguided here: tap collects coverage itself.
 */
import t from 'tap';
import { fuzz, minimize, Rng, type FuzzTarget } from './fuzz/engine.js';
import { TARGETS } from './fuzz/targets/index.js';

const BUDGET: Record<string, number> = {
  'mdns-decoder': 4000,
  'mdns-receive': 1500,
  txt: 4000,
  'peer-api': 800,
  'contact-xml': 3000,
  config: 1500,
  firstboot: 2000,
};

t.test('every fuzz target holds its contract on a fixed-seed run', async (t) => {
  t.same(Object.keys(BUDGET).sort(), TARGETS.map((x) => x.name).sort(), 'a budget for every target');
  for (const target of TARGETS) {
    const r = await fuzz(target, {
      inputs: BUDGET[target.name] ?? 1000,
      seed: 20240607,
      guided: false,
      minimizeMs: 5000,
    });
    t.equal(r.inputs, BUDGET[target.name], `${target.name}: all inputs ran`);
    t.ok(r.seeds > 0, `${target.name}: ${r.seeds} seeds`);
    t.same(
      r.findings.map((f) => `${f.signature}\n${f.error}\n${f.minimized.toString('hex').slice(0, 400)}`),
      [],
      `${target.name}: no finding`,
    );
    t.equal(r.crashes, 0, `${target.name}: 0 crashes`);
    t.equal(r.hangs, 0, `${target.name}: 0 hangs`);
  }
});

/** A toy parser with a bug mutation reaches: a compression pointer 0xc00c right at the start. */
class ToyError extends Error {}
const planted = (overrides: Partial<FuzzTarget> = {}): FuzzTarget => ({
  name: 'toy',
  title: 'toy',
  contract: 'ToyError only',
  maxLen: 64,
  cover: [],
  seeds: () => [Buffer.from('\x00\x01hello world\x00')],
  run(input) {
    if (input.length < 2) throw new ToyError('short'); // documented errors are caught below
    const pointer = input.readUInt16BE(0);
    if (pointer === 0xc00c) {
      const labels: string[] | undefined = undefined;
      (labels as unknown as string[]).push('boom'); // TypeError: the planted bug
    }
  },
  ...overrides,
});
const catching = (target: FuzzTarget): FuzzTarget => ({
  ...target,
  run(input) {
    try {
      return target.run(input);
    } catch (e) {
      if (e instanceof ToyError) return;
      throw e;
    }
  },
});

t.test('the engine finds, names and minimises a planted bug', async (t) => {
  const r = await fuzz(catching(planted()), { inputs: 20_000, seed: 7, guided: false, maxFindings: 1 });
  t.ok(r.crashes >= 1, `found after ${r.inputs} inputs`);
  t.ok(r.inputs < 20_000, 'stopped at the first finding');
  const f = r.findings[0];
  t.match(f?.signature ?? '', /^TypeError: /, 'a TypeError, named by its first frame');
  t.same([...(f?.minimized ?? [])], [0xc0, 0x0c], 'minimised to the two bytes that matter');
  const again = await fuzz(catching(planted()), { inputs: 20_000, seed: 7, guided: false, maxFindings: 1 });
  t.equal(again.inputs, r.inputs, 'same seed, same run');
  t.equal(again.findings[0]?.input.toString('hex'), f?.input.toString('hex'));
});

t.test('documented errors are not crashes; a slow input is a hang', async (t) => {
  const quiet = await fuzz(catching(planted({ run: () => void 0 })), {
    inputs: 2000,
    seed: 1,
    guided: false,
  });
  t.equal(quiet.crashes + quiet.hangs, 0);
  const slow = planted({
    run(input) {
      if ((input[0] ?? 0) & 0x80) {
        const end = performance.now() + 40;
        while (performance.now() < end);
      }
    },
  });
  const r = await fuzz(slow, {
    inputs: 3000,
    seed: 3,
    guided: false,
    hangMs: 20,
    maxFindings: 1,
    minimizeMs: 2000,
  });
  t.ok(r.hangs >= 1, 'hang counted');
  t.equal(r.findings[0]?.kind, 'hang');
  t.ok(((r.findings[0]?.minimized[0] ?? 0) & 0x80) !== 0, 'the minimised input is still slow');
});

t.test('an input slow once but in time on both re-runs is a stall, not a hang', async (t) => {
  let stallNext = 5; // the 5th input waits (as on a loaded machine); its re-runs do not
  const r = await fuzz(
    planted({
      run() {
        if (--stallNext === 0) {
          const end = performance.now() + 40;
          while (performance.now() < end);
        }
      },
    }),
    { inputs: 200, seed: 4, guided: false, hangMs: 20 },
  );
  t.equal(r.hangs, 0, 'no hang');
  t.equal(r.stalls, 1, 'one stall');
  t.same(r.findings, []);
});

t.test('minimize keeps the failing property and shrinks', async (t) => {
  const big = Buffer.from('aaaaXbbbbYcccc');
  const small = await minimize(big, async (b) => b.includes('X') && b.includes('Y'));
  t.equal(small.toString(), 'XY');
  const rng = new Rng(5);
  const seq = Array.from({ length: 5 }, () => rng.u32());
  const rng2 = new Rng(5);
  t.same(
    Array.from({ length: 5 }, () => rng2.u32()),
    seq,
    'the PRNG is reproducible',
  );
});
