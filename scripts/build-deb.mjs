#!/usr/bin/env node
// `npm run deb`: build deploy/out/peerhub_<version>_all.deb with Debian's dpkg-deb (no debhelper).
//
//   node scripts/build-deb.mjs [--no-build] [--out DIR] [--lintian]
//   env PEERHUB_DEB_VERSION=0.0.9  overrides the version from package.json (tests build an "old" package)
//
// Layout: /usr/lib/peerhub/{dist/{firmware,board},node_modules (production dependencies only, copied from
// the installed tree: `npm ls --omit=dev --parseable --all`, no network), package.json, overlays/*.dtbo},
// /usr/bin/peerhub, /usr/lib/systemd/system/peerhub.service, /usr/lib/udev/rules.d/60-peerhub.rules,
// /etc/peerhub/peerhub.toml (conffile), /usr/share/doc/peerhub. Maintainer scripts: deploy/deb/.
// Architecture all: every shipped dependency is JavaScript; the build fails if a native addon slips in.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? resolve(args[i + 1]) : fallback;
};
const outDir = opt('--out', join(root, 'deploy/out'));
const started = Date.now();

function die(msg) {
  console.error(`build-deb: ${msg}`);
  process.exit(1);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: root, maxBuffer: 64 << 20, ...opts });
  if (r.error) die(`${cmd}: ${r.error.message}`);
  return r;
}

for (const tool of ['dpkg-deb']) {
  if (run('sh', ['-c', `command -v ${tool}`]).status !== 0) die(`${tool} not found (Debian package dpkg)`);
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = process.env.PEERHUB_DEB_VERSION || pkg.version;
if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(version)) die(`not a Debian version: ${version}`);

// 1. Compile (TypeScript → dist/, overlays → dist/overlays/).
if (!flag('--no-build')) {
  const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) die('npm run build failed');
}
for (const d of ['dist/firmware/cli/main.js', 'dist/board']) {
  if (!existsSync(join(root, d))) die(`${d} missing: run npm run build`);
}
const overlays = existsSync(join(root, 'dist/overlays'))
  ? readdirSync(join(root, 'dist/overlays')).filter((f) => f.endsWith('.dtbo'))
  : [];
if (overlays.length === 0) {
  die('no compiled overlays in dist/overlays (apt-get install device-tree-compiler, then npm run build)');
}

// 2. Stage.
const stage = mkdtempSync(join(tmpdir(), 'peerhub-deb-'));
process.on('exit', () => rmSync(stage, { recursive: true, force: true }));
const S = (p) => join(stage, p);
const lib = S('usr/lib/peerhub');
mkdirSync(lib, { recursive: true });

// Not needed at run time: source maps, type declarations, the packages' own tests, CI and editor files.
const JUNK_FILE =
  /\.(map|d\.ts|d\.mts|d\.cts|tsbuildinfo)$|^\.(gitattributes|gitignore|npmignore|editorconfig|eslintrc.*|eslintignore|prettierrc.*|taprc|travis\.yml|nycrc.*)$|^eslint\.config\.[cm]?js$|^index\.html$/;
const JUNK_DIR =
  /^(\.github|\.husky|\.vscode|test|tests|__tests__|benchmarks?|examples?|coverage|integration)$/;
const junk = (p) => {
  const base = p.split(sep).pop() ?? '';
  if (JUNK_FILE.test(base)) return true;
  return JUNK_DIR.test(base) && p.includes(`${sep}node_modules${sep}`) && statSync(p).isDirectory();
};
for (const d of ['firmware', 'board']) {
  cpSync(join(root, 'dist', d), join(lib, 'dist', d), { recursive: true, filter: (p) => !junk(p) });
}
for (const f of overlays) {
  mkdirSync(join(lib, 'overlays'), { recursive: true });
  copyFileSync(join(root, 'dist/overlays', f), join(lib, 'overlays', f));
}

// Production dependencies: the installed packages npm reaches from `dependencies` (no network).
const ls = run('npm', ['ls', '--omit=dev', '--parseable', '--all']);
const prodPaths = ls.stdout
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && l !== root && l.startsWith(join(root, 'node_modules') + sep) && existsSync(l));
if (prodPaths.length === 0) die(`npm ls found no production dependencies:\n${ls.stderr}`);
const licenses = [];
for (const p of prodPaths) {
  const rel = relative(root, p);
  // Nested node_modules are listed (and copied) on their own when they are production dependencies.
  cpSync(p, join(lib, rel), {
    recursive: true,
    filter: (src) =>
      !junk(src) && !(src.startsWith(p + sep) && relative(p, src).split(sep)[0] === 'node_modules'),
  });
  const meta = JSON.parse(readFileSync(join(p, 'package.json'), 'utf8'));
  licenses.push({ name: meta.name, version: meta.version, license: meta.license ?? 'see its files' });
}

const shipped = { name: pkg.name, version, description: pkg.description, license: pkg.license };
writeFileSync(
  join(lib, 'package.json'),
  JSON.stringify({ ...shipped, type: 'module', dependencies: pkg.dependencies }, null, 2) + '\n',
);

const put = (src, dest, mode = 0o644) => {
  mkdirSync(dirname(S(dest)), { recursive: true });
  copyFileSync(join(root, src), S(dest));
  chmodSync(S(dest), mode);
};
put('deploy/deb/peerhub.sh', 'usr/bin/peerhub', 0o755);
put('deploy/systemd/peerhub.service', 'usr/lib/systemd/system/peerhub.service');
put('deploy/deb/60-peerhub.rules', 'usr/lib/udev/rules.d/60-peerhub.rules');
put('deploy/deb/peerhub.toml', 'etc/peerhub/peerhub.toml');
put('README.md', 'usr/share/doc/peerhub/README.md');
put('config/peerhub.example.toml', 'usr/share/doc/peerhub/peerhub.example.toml');
const maintainer = `${process.env.DEBFULLNAME || 'peerhub maintainers'} <${process.env.DEBEMAIL || 'peerhub@localhost'}>`;
// A native package's changelog.gz is in Debian's format; the project's own changelog goes beside it.
const when = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000)) * 1000);
const rfc2822 = when
  .toUTCString()
  .replace(/GMT$/, '+0000')
  .replace(/^(\w+), (\d+) (\w+) (\d+)/, '$1, $2 $3 $4');
writeFileSync(
  S('usr/share/doc/peerhub/changelog.gz'),
  gzipSync(
    `peerhub (${version}) unstable; urgency=medium\n\n` +
      `  * Release ${version}: see /usr/share/doc/peerhub/CHANGELOG.md.gz.\n\n` +
      ` -- ${maintainer}  ${rfc2822}\n`,
    { level: 9 },
  ),
);
writeFileSync(
  S('usr/share/doc/peerhub/CHANGELOG.md.gz'),
  gzipSync(readFileSync(join(root, 'CHANGELOG.md')), { level: 9 }),
);
writeFileSync(
  S('usr/share/doc/peerhub/copyright'),
  [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: peerhub',
    '',
    'Files: *',
    `Copyright: ${when.getUTCFullYear()} peerhub authors`,
    `License: ${pkg.license}`,
    '',
    'Files: usr/lib/peerhub/node_modules/*',
    'Comment: bundled npm packages, each under the license its package.json names:',
    ...licenses
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(
        (l) =>
          ` ${l.name} ${l.version}: ${typeof l.license === 'string' ? l.license : JSON.stringify(l.license)}`,
      ),
    '',
    `License: ${pkg.license}`,
    ' On Debian systems the full text of common licenses is in /usr/share/common-licenses;',
    ' the MIT license text is in each bundled package and at https://opensource.org/license/mit.',
    '',
  ].join('\n'),
);

// 3. Normalise: directories 0755, files 0644 (executables only where we put them), no native addons.
const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      chmodSync(p, 0o755);
      walk(p);
    } else if (e.isSymbolicLink()) {
      files.push(p);
    } else {
      // Executable: our wrapper and any script with a #! line (a bundled package's bin).
      const head = readFileSync(p).subarray(0, 2).toString('latin1');
      chmodSync(p, head === '#!' ? 0o755 : 0o644);
      files.push(p);
    }
  }
};
walk(stage);
const native = files.filter((f) => f.endsWith('.node') || /[/\\]build[/\\]Release[/\\]/.test(f));
if (native.length > 0)
  die(`native addons would make the package architecture-dependent:\n${native.join('\n')}`);

// 4. DEBIAN/: control, conffiles, md5sums, maintainer scripts.
mkdirSync(S('DEBIAN'), { recursive: true });
let bytes = 0;
const sums = [];
for (const f of files) {
  const st = lstatSync(f);
  bytes += st.isSymbolicLink() ? 0 : statSync(f).size;
  if (st.isSymbolicLink() || f.startsWith(S('etc') + sep)) continue;
  sums.push(`${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(stage, f)}`);
}
const installedKB = Math.ceil(bytes / 1024) + Math.ceil(files.length / 4); // + directory/inode slack
writeFileSync(
  S('DEBIAN/control'),
  [
    'Package: peerhub',
    `Version: ${version}`,
    'Architecture: all',
    `Maintainer: ${maintainer}`,
    `Installed-Size: ${installedKB}`,
    'Depends: nodejs (>= 20), adduser | passwd, systemd',
    'Recommends: avahi-daemon',
    'Section: net',
    'Priority: optional',
    `Description: LAN presence hub (People Near Me, contacts, invitations)`,
    " peerhub runs on a Raspberry Pi as a LAN presence hub: it announces its owner's",
    ' presence on the subnet over mDNS/DNS-SD, keeps contacts bound to their keys,',
    ' hosts collaboration sessions with invitations over mutual TLS, and shows them',
    ' on LEDs with accept/decline buttons. The `peerhub` command talks to the agent',
    ' over a local socket. This package runs the agent as a hardened systemd service.',
    '',
  ].join('\n'),
);
writeFileSync(S('DEBIAN/conffiles'), '/etc/peerhub/peerhub.toml\n');
writeFileSync(S('DEBIAN/md5sums'), sums.sort().join('\n') + '\n');
for (const s of ['postinst', 'prerm', 'postrm']) put(`deploy/deb/${s}`, `DEBIAN/${s}`, 0o755);
chmodSync(S('DEBIAN'), 0o755);
for (const f of ['control', 'conffiles', 'md5sums']) chmodSync(S(`DEBIAN/${f}`), 0o644);

// 5. Build and check.
mkdirSync(outDir, { recursive: true });
const deb = join(outDir, `peerhub_${version}_all.deb`);
const env = {
  ...process.env,
  SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH ?? String(Math.floor(Date.now() / 1000)),
};
const b = run('dpkg-deb', ['--build', '--root-owner-group', '-Zxz', stage, deb], { env });
if (b.status !== 0) die(`dpkg-deb --build failed:\n${b.stderr}`);
const info = run('dpkg-deb', ['--info', deb]);
const contents = run('dpkg-deb', ['--contents', deb]);
if (info.status !== 0 || contents.status !== 0)
  die(`dpkg-deb cannot read ${deb}:\n${info.stderr}${contents.stderr}`);
const listed = contents.stdout.split('\n').filter(Boolean);
for (const must of [
  './usr/bin/peerhub',
  './usr/lib/systemd/system/peerhub.service',
  './etc/peerhub/peerhub.toml',
]) {
  if (!listed.some((l) => l.endsWith(` ${must}`) || l.includes(` ${must} `)))
    die(`${must} missing from ${deb}`);
}
if (flag('--lintian')) {
  const l = run('lintian', ['--no-tag-display-limit', deb]);
  process.stdout.write(l.error ? 'lintian not installed\n' : `lintian:\n${l.stdout}${l.stderr}`);
}
const size = statSync(deb).size;
console.log(
  `built ${relative(process.cwd(), deb) || deb}: ${(size / 1048576).toFixed(1)} MiB, ` +
    `${listed.length} entries, installed ${Math.round(installedKB / 1024)} MiB, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
console.log(deb);
