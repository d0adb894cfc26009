import t from 'tap';
import { fleetOptionsFromArgs, wholeAt } from '../../../test/bench/fleet.js';

const add = (t: number, name: string) => ({ t, s: { kind: 'add' as const, name } });
const remove = (t: number, name: string) => ({ t, s: { kind: 'remove' as const, name } });

t.test('whole: the first moment every hub lists all the others at once', async (t) => {
  const expected = [new Set(['B', 'C']), new Set(['A', 'C']), new Set(['A', 'B'])];
  // A is done at 2 and loses C at 5; B done at 4; C done at 6; A finds C again at 9.
  const a = [add(1, 'B'), add(2, 'C'), remove(5, 'C'), add(9, 'C')];
  const b = [add(3, 'A'), add(4, 'C')];
  const c = [add(5, 'A'), add(6, 'B'), add(6.5, 'X')];
  t.equal(wholeAt([a, b, c], expected), 9, 'not 6: A had lost C when the last hub was done');
  t.equal(wholeAt([a.slice(0, 2), b, c], expected), 6, 'without the loss: when the last hub is done');
  t.equal(wholeAt([a.slice(0, 3), b, c], expected), null, 'never whole');
  t.equal(wholeAt([[add(1, 'B')], [add(2, 'A')]], [new Set(['B']), new Set(['A'])]), 2);
});

t.test('together: provisioned hubs unless --fleet-first-boot', async (t) => {
  t.equal(
    fleetOptionsFromArgs([]).firstBoot,
    false,
    'default: hubs booting with the keys of their first boot',
  );
  t.equal(fleetOptionsFromArgs(['--fleet', '100', '--fleet-first-boot']).firstBoot, true);
  t.same(fleetOptionsFromArgs(['--fleet', '100,10', '--fleet-first-boot']).sizes, [10, 100]);
});
