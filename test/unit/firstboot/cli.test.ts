import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, runBin } from '../run-bin.js';
import { ed25519 } from './keys.js';

// `peerhub firstboot` as the first-boot unit runs it: the compiled bin, against a temp root (not `/`,
// so nothing on this machine changes: no `hostname`, no systemctl).
if (!existsSync(bin)) {
  t.fail(`compiled CLI missing at ${bin}: run \`npm run build\` (npm test does)`);
} else {
  const setup = (bootText?: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'ph-firstboot-cli-'));
    const root = join(dir, 'root');
    const boot = join(dir, 'boot');
    mkdirSync(join(root, 'etc/peerhub'), { recursive: true });
    mkdirSync(join(root, 'home/admin'), { recursive: true });
    mkdirSync(boot);
    writeFileSync(join(root, 'etc/passwd'), 'admin:x:1000:1000::/home/admin:/bin/bash\n');
    writeFileSync(join(root, 'etc/peerhub/peerhub.toml'), 'port = 7443\n');
    if (bootText !== undefined) writeFileSync(join(boot, 'peerhub.toml'), bootText);
    return { dir, root, boot };
  };
  const logs = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  // The whole file sets owners (root for the Wi-Fi file, admin for ~/.ssh): only root may (apply.test.ts
  // checks the owners asked for without root).
  const asRoot = process.getuid?.() === 0 ? {} : { skip: 'needs root: the file sets owners (chown)' };
  t.test('applies the file, logs one JSON line per step, exit 0', asRoot, async (t) => {
    const key = ed25519();
    const s = setup(
      `nickname = "Kitchen"\nhostname = "hub"\n[wifi]\nssid = "Home"\npassphrase = "hunter2hunter2"\ncountry = "FR"\n[ssh]\nauthorized_keys = ["${key}"]\n`,
    );
    const r = await runBin(['firstboot', '--boot-dir', s.boot, '--root', s.root]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stderr, '');
    const lines = logs(r.stdout);
    t.ok(lines.every((l) => l.app === 'peerhub' && l.component === 'firstboot'));
    t.equal(lines.filter((l) => l.msg === 'applied').length, 12, 'hostname 2, nickname 1, wifi 7, ssh 2');
    t.match(lines.at(-1), { msg: 'first boot done', applied: 12, errors: 0 });
    t.notOk(r.stdout.includes('hunter2'));
    t.equal(readFileSync(join(s.root, 'etc/hostname'), 'utf8'), 'hub\n');
    t.equal(readFileSync(join(s.root, 'home/admin/.ssh/authorized_keys'), 'utf8'), `${key}\n`);
    t.notOk(readFileSync(join(s.boot, 'peerhub-applied.toml'), 'utf8').includes('hunter2'));
    t.match(JSON.parse(readFileSync(join(s.root, 'var/lib/peerhub-firstboot/result.json'), 'utf8')), {
      errors: [],
    });
  });

  t.test('no file: nothing to do, exit 0, no result written', async (t) => {
    const s = setup();
    const r = await runBin(['firstboot', '--boot-dir', s.boot, '--root', s.root]);
    t.equal(r.code, 0, r.stderr);
    t.match(logs(r.stdout), [{ msg: 'no first-boot file: nothing to do' }]);
    t.notOk(existsSync(join(s.root, 'var/lib/peerhub-firstboot')));
  });

  t.test('not TOML: exit 1, --result honoured', async (t) => {
    const s = setup('hostname = "hub\n');
    const result = join(s.dir, 'out/result.json');
    const r = await runBin(['firstboot', '--boot-dir', s.boot, '--root', s.root, '--result', result]);
    t.equal(r.code, 1);
    t.match(JSON.parse(readFileSync(result, 'utf8')), {
      outcome: 'invalid',
      errors: [/not valid TOML at line 1/],
    });
    t.ok(existsSync(join(s.boot, 'peerhub-invalid.toml')));
    t.match(r.stdout, /"level":"error".*not valid TOML at line 1/);
  });

  t.test('usage: documented options', async (t) => {
    const r = await runBin(['firstboot', '--help']);
    t.equal(r.code, 0);
    t.match(r.stdout, /--boot-dir <dir>[\s\S]*default:\s+"\/boot\/firmware"/);
    t.match(r.stdout, /--root <dir>/);
    t.match(r.stdout, /--result <file>/);
  });
}
