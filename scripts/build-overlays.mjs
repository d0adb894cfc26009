#!/usr/bin/env node
// Compile the panel's device-tree overlays (board/overlays/*.dts) to dist/overlays/<name>.dtbo with
// Debian's dtc (package device-tree-compiler): `dtc -@` keeps the labels so the firmware can apply
// parameters. Where dtc is missing (a dev machine) the overlays are skipped with one warning line and
// the build still succeeds; CI installs dtc, and the overlay unit test fails there without it.
//
//   node scripts/build-overlays.mjs [--src board/overlays] [--out dist/overlays]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? resolve(process.argv[i + 1]) : fallback;
};
const src = arg('--src', join(root, 'board/overlays'));
const out = arg('--out', join(root, 'dist/overlays'));

// An overlay's phandles into the base tree (&gpio, &rp1_gpio) are fixups, unresolved until the firmware
// applies it: dtc cannot check `gpios` cells against them, hence no-gpios_property. Any other warning shows.
const DTC_FLAGS = ['-@', '-W', 'no-gpios_property', '-I', 'dts', '-O', 'dtb'];

const probe = spawnSync('dtc', ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.warn(
    'peerhub: dtc not found (apt-get install device-tree-compiler): device-tree overlays not built',
  );
  process.exit(0);
}

const sources = readdirSync(src)
  .filter((f) => f.endsWith('.dts'))
  .sort();
mkdirSync(out, { recursive: true });
let failed = 0;
for (const f of sources) {
  const target = join(out, `${basename(f, '.dts')}.dtbo`);
  const r = spawnSync('dtc', [...DTC_FLAGS, '-o', target, join(src, f)], { encoding: 'utf8' });
  if (r.stderr) process.stderr.write(r.stderr);
  if (r.status !== 0) {
    console.error(`peerhub: dtc failed on ${f}`);
    failed++;
  }
}
if (failed > 0) process.exit(1);
