/**
 * Every input the fuzzer ever saved (test/torture/fuzz/corpus/<target>/*.bin: crashes and hangs,
 * minimised) replayed against its target: once the firmware is fixed, each stays fixed.
 */
import t from 'tap';
import { savedInputs } from './fuzz/corpus.js';
import { TARGETS } from './fuzz/targets/index.js';

const all = TARGETS.map((target) => ({ target, saved: savedInputs(target.name) }));

t.ok(
  all.some((x) => x.saved.length > 0),
  'the corpus holds saved findings (contact-xml: the undecodable public key)',
);

for (const { target, saved } of all) {
  if (saved.length === 0) continue;
  t.test(`${target.name}: ${saved.length} saved input(s) replay cleanly`, async (t) => {
    await target.setup?.();
    t.teardown(() => target.teardown?.());
    for (const { name, input } of saved) {
      const t0 = performance.now();
      let error: unknown = null;
      try {
        await target.run(input);
      } catch (e) {
        error = e;
      }
      t.equal(error, null, `${name}: no crash${error instanceof Error ? ` (${error.stack})` : ''}`);
      t.ok(performance.now() - t0 < 5000, `${name}: returns (no hang)`);
    }
  });
}
