import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PINS } from '../../../board/pins.js';
import { cells, find, overrideTargets, parseFdt, strings, walk, type FdtNode } from './fixtures/fdt.js';

const script = fileURLToPath(new URL('../../../scripts/build-overlays.mjs', import.meta.url));
const hasDtc = spawnSync('dtc', ['--version']).status === 0;
const hasFdtoverlay = spawnSync('fdtoverlay', ['--help']).status !== null;

if (!hasDtc) {
  // CI installs device-tree-compiler (.ci/run): there a missing dtc is a failure, not a skip.
  if (process.env.CI === 'true') t.fail('dtc not found: CI must install device-tree-compiler');
  else
    t.test(
      'device-tree overlays',
      { skip: 'dtc not installed (apt-get install device-tree-compiler): overlays not compiled here' },
      async () => {},
    );
} else {
  const out = t.testdir();
  const build = spawnSync(process.execPath, [script, '--out', out], { encoding: 'utf8' });

  t.test('the build compiles both overlays without a warning', async (t) => {
    t.equal(build.status, 0, build.stderr);
    t.equal(build.stderr, '', 'dtc printed nothing');
  });

  const cases = [
    { name: 'peerhub-pi4', target: 'gpio', compatible: 'brcm,bcm2711' },
    { name: 'peerhub-pi5', target: 'rp1_gpio', compatible: 'brcm,bcm2712' },
  ] as const;

  for (const c of cases) {
    t.test(`${c.name}.dtbo: fragments, nodes and parameters`, async (t) => {
      const dtbo = join(out, `${c.name}.dtbo`);
      const tree = parseFdt(readFileSync(dtbo));
      t.same(strings(tree.props.get('compatible')), [c.compatible]);

      // The pinctrl fragment targets the GPIO controller; every gpios phandle refers to it too.
      const fixups = find(tree, '__fixups__') as FdtNode;
      t.same([...fixups.props.keys()], [c.target], `only &${c.target} is referenced`);
      const refs = strings(fixups.props.get(c.target));
      t.ok(refs.includes('/fragment@0:target:0'), `fragment@0 targets &${c.target}`);
      t.equal(refs.filter((r) => r.endsWith(':gpios:0')).length, 5, 'five gpios on the controller');
      t.same(strings(find(tree, 'fragment@1')?.props.get('target-path')), ['/']);

      const leds = find(tree, 'fragment@1/__overlay__/peerhub-leds') as FdtNode;
      t.same(strings(leds.props.get('compatible')), ['gpio-leds']);
      for (const [name, pin] of Object.entries(DEFAULT_PINS.leds)) {
        const n = find(leds, name) as FdtNode;
        t.same(strings(n.props.get('label')), [pin.label], `${name}: label ${pin.label}`);
        t.same(cells(n.props.get('gpios')).slice(1), [pin.gpio, 0], `${name}: GPIO${pin.gpio}, active high`);
        t.same(strings(n.props.get('default-state')), ['off']);
      }

      const keys = find(tree, 'fragment@1/__overlay__/peerhub-keys') as FdtNode;
      t.same(strings(keys.props.get('compatible')), ['gpio-keys']);
      t.same(strings(keys.props.get('label')), [DEFAULT_PINS.input_name], 'input device name');
      for (const [name, pin] of Object.entries(DEFAULT_PINS.keys)) {
        const n = find(keys, name) as FdtNode;
        t.same(cells(n.props.get('linux,code')), [pin.code], `${name}: code ${pin.code}`);
        t.same(cells(n.props.get('gpios')).slice(1), [pin.gpio, 1], `${name}: GPIO${pin.gpio}, active low`);
        t.same(cells(n.props.get('debounce-interval')), [20], `${name}: kernel debounce`);
      }

      // Pull-ups on the button pins, in each controller's own binding.
      const pinctrl = find(tree, 'fragment@0/__overlay__') as FdtNode;
      const keyPins = pinctrl.children.find((n) => cells(n.props.get('brcm,pins')).includes(5)) as FdtNode;
      t.same(cells(keyPins.props.get('brcm,pins')), [5, 6]);
      if (c.name === 'peerhub-pi4') t.same(cells(keyPins.props.get('brcm,pull')), [2], 'brcm,pull = 2 (up)');
      else {
        t.ok(keyPins.props.has('bias-pull-up'), 'bias-pull-up');
        t.same(strings(keyPins.props.get('function')), ['gpio']);
      }

      // Every parameter points at a cell holding the documented default.
      const byPhandle = new Map<number, FdtNode>();
      for (const n of walk(tree)) {
        const p = n.props.get('phandle');
        if (p) byPhandle.set(p.readUInt32BE(0), n);
      }
      const overrides = find(tree, '__overrides__') as FdtNode;
      const expected: Record<string, number> = {
        invite_gpio: 17,
        status_gpio: 27,
        presence_gpio: 22,
        accept_gpio: 5,
        decline_gpio: 6,
        accept_code: 0x100,
        decline_code: 0x101,
        debounce: 20,
      };
      t.same([...overrides.props.keys()].sort(), Object.keys(expected).sort(), 'the documented parameters');
      for (const [param, value] of Object.entries(expected)) {
        const targets = overrideTargets(overrides.props.get(param) as Buffer);
        const seen = targets.map(({ phandle, property, offset }) => {
          const node = byPhandle.get(phandle);
          return node?.props.get(property)?.readUInt32BE(offset);
        });
        t.same(
          seen,
          targets.map(() => value),
          `${param} → ${targets.map((x) => `${x.property}:${x.offset}`).join(', ')}`,
        );
      }
      const gpioParams = ['invite_gpio', 'status_gpio', 'presence_gpio', 'accept_gpio', 'decline_gpio'];
      for (const p of gpioParams)
        t.same(
          overrideTargets(overrides.props.get(p) as Buffer).map((x) => x.property),
          ['gpios', 'brcm,pins'],
          `${p} moves both the device's GPIO and its pinctrl entry`,
        );
    });

    t.test(
      `${c.name}.dtbo applies to a base tree that has &${c.target} (fdtoverlay)`,
      { skip: !hasFdtoverlay && 'fdtoverlay not installed' },
      async (t) => {
        const dir = t.testdir();
        const base = join(dir, 'base.dts');
        writeFileSync(
          base,
          `/dts-v1/;\n/ {\n\tcompatible = "${c.compatible}";\n\t#address-cells = <1>;\n\t#size-cells = <1>;\n` +
            `\t${c.target}: gpio@7e200000 {\n\t\treg = <0x7e200000 0xb4>;\n\t\tgpio-controller;\n\t\t#gpio-cells = <2>;\n\t};\n};\n`,
        );
        const dtb = join(dir, 'base.dtb');
        t.equal(
          spawnSync('dtc', ['-@', '-I', 'dts', '-O', 'dtb', '-o', dtb, base]).status,
          0,
          'base compiled',
        );
        const merged = join(dir, 'merged.dtb');
        const r = spawnSync('fdtoverlay', ['-i', dtb, '-o', merged, join(out, `${c.name}.dtbo`)], {
          encoding: 'utf8',
        });
        t.equal(r.status, 0, r.stderr);
        const tree = parseFdt(readFileSync(merged));
        const gpio = find(tree, 'gpio@7e200000') as FdtNode;
        const phandle = cells(gpio.props.get('phandle'))[0];
        t.ok(phandle, 'the controller got a phandle');
        t.same(
          cells(find(tree, 'peerhub-leds/invite')?.props.get('gpios')),
          [phandle, 17, 0],
          'LED → controller',
        );
        t.same(
          cells(find(tree, 'peerhub-keys/decline')?.props.get('gpios')),
          [phandle, 6, 1],
          'key → controller',
        );
        t.equal(gpio.children.length, 2, 'pin configurations merged into the controller');

        // The other model's overlay does not apply here: its controller label is missing.
        const other = cases.find((x) => x.name !== c.name) as (typeof cases)[number];
        const wrong = spawnSync('fdtoverlay', [
          '-i',
          dtb,
          '-o',
          join(dir, 'x.dtb'),
          join(out, `${other.name}.dtbo`),
        ]);
        t.not(wrong.status, 0, `${other.name} refused on a ${c.compatible} tree`);
      },
    );
  }
}
