/** `npm start` runs the agent with the Node flags of the appliance's unit, so what a developer sees is the hub. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, unitNodeFlags } from '../lab/paths.js';

t.test("npm start uses the systemd unit's Node flags", async (t) => {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const run = /\bnode\s+((?:--\S+\s+)*)dist\/firmware\/cli\/main\.js agent\b/.exec(pkg.scripts.start ?? '');
  t.ok(run, `start runs the agent: ${pkg.scripts.start}`);
  const flags = (run?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  t.ok(unitNodeFlags().length > 0, 'the unit names Node flags');
  t.same(flags, unitNodeFlags(), 'the same flags, in the same order');
});
