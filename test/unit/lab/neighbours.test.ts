import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  neighbourEntriesFor,
  neighbourFiles,
  raiseNeighbourLimits,
  restoreLeftoverLimits,
} from '../../../test/lab/neighbours.js';

// The knobs of a fake /proc/sys in a temp dir (never the machine's: no root needed, nothing changed).
const root = t.testdir({});
neighbourFiles.sys = join(root, 'sys');
neighbourFiles.record = join(root, 'record.json');
const knob = (family: string, k: number): string =>
  join(neighbourFiles.sys, 'net', family, 'neigh', 'default', `gc_thresh${k}`);
const value = (p: string): number => Number(readFileSync(p, 'utf8').trim());
const defaults = [128, 512, 1024];
function reset(values = defaults): void {
  for (const family of ['ipv4', 'ipv6']) {
    mkdirSync(join(neighbourFiles.sys, 'net', family, 'neigh', 'default'), { recursive: true });
    values.forEach((v, i) => writeFileSync(knob(family, i + 1), `${v}\n`));
  }
}

t.test('a killed lab left the limits raised: the next lab puts back what it wrote', async (t) => {
  reset([1000, 2000, 4000]);
  writeFileSync(knob('ipv6', 3), '9999'); // changed by someone else since the killed lab wrote 4000
  const record = Object.fromEntries(
    ['ipv4', 'ipv6'].flatMap((f) =>
      [1, 2, 3].map((k) => [knob(f, k), [defaults[k - 1], [1000, 2000, 4000][k - 1]]]),
    ),
  );
  writeFileSync(neighbourFiles.record, JSON.stringify(record));
  t.same(
    restoreLeftoverLimits(() => true),
    [],
    'another lab is running: nothing touched',
  );
  t.equal(value(knob('ipv4', 3)), 4000);
  t.ok(existsSync(neighbourFiles.record), 'the record is kept for later');
  const back = restoreLeftoverLimits(() => false);
  t.equal(back.length, 5, 'five knobs put back');
  t.same(
    [1, 2, 3].map((k) => value(knob('ipv4', k))),
    defaults,
  );
  t.equal(value(knob('ipv6', 3)), 9999, 'a value someone else wrote is theirs');
  t.notOk(existsSync(neighbourFiles.record), 'the record is gone');
  t.same(
    restoreLeftoverLimits(() => false),
    [],
    'nothing left to do',
  );
});

t.test('a broken record puts nothing back', async (t) => {
  reset([1000, 2000, 4000]);
  writeFileSync(neighbourFiles.record, '{"not json');
  t.same(
    restoreLeftoverLimits(() => false),
    [],
  );
  writeFileSync(
    neighbourFiles.record,
    JSON.stringify({ '/etc/passwd': [1, 2], [knob('ipv4', 1)]: ['x', 1000] }),
  );
  t.same(
    restoreLeftoverLimits(() => false),
    [],
    'only integer pairs of knobs under the sys root',
  );
  t.equal(value(knob('ipv4', 1)), 1000);
});

t.test('raising writes the record a later lab reads', async (t) => {
  reset();
  t.same(raiseNeighbourLimits(50), []);
  const want = neighbourEntriesFor(50);
  t.same(
    [1, 2, 3].map((k) => value(knob('ipv4', k))),
    want,
  );
  const record = JSON.parse(readFileSync(neighbourFiles.record, 'utf8')) as Record<string, number[]>;
  t.same(record[knob('ipv4', 3)], [1024, want[2]]);
  t.same(record[knob('ipv6', 1)], [128, want[0]]);
  t.same(
    restoreLeftoverLimits(() => false),
    [],
    "this process's own raise is restored with its last lab, not here",
  );
});
