import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, SYSTEM_CONFIG_FILE } from '../../../firmware/config/load.js';

// The installed package's /etc/peerhub/peerhub.toml is read when no file is named, so `peerhub agent`
// run by hand on the appliance uses the appliance's data dir and socket.
const env = { HOME: '/home/ann' } as NodeJS.ProcessEnv;
const dir = mkdtempSync(join(tmpdir(), 'ph-sysconf-'));
const system = join(dir, 'peerhub.toml');
writeFileSync(system, 'data_dir = "/var/lib/peerhub"\ncontrol_socket = "/run/peerhub/control.sock"\n');
const other = join(dir, 'other.toml');
writeFileSync(other, 'data_dir = "/srv/hub"\n');

t.test('the default path is the package conffile', async (t) => {
  t.equal(SYSTEM_CONFIG_FILE, '/etc/peerhub/peerhub.toml');
});

t.test('no --config, no PEERHUB_CONFIG, the system file exists: it is used', async (t) => {
  const c = loadConfig({ env, systemConfigFile: system });
  t.equal(c.data_dir, '/var/lib/peerhub');
  t.equal(c.control_socket, '/run/peerhub/control.sock');
});

t.test('flags and environment still win over the system file', async (t) => {
  const c = loadConfig({
    env: { ...env, PEERHUB_CONTROL_SOCKET: '/tmp/x.sock' },
    systemConfigFile: system,
    flags: { data_dir: '/tmp/d' },
  });
  t.equal(c.data_dir, '/tmp/d');
  t.equal(c.control_socket, '/tmp/x.sock');
});

t.test('--config or PEERHUB_CONFIG: the system file is not read', async (t) => {
  t.equal(loadConfig({ env, configFile: other, systemConfigFile: system }).data_dir, '/srv/hub');
  t.equal(
    loadConfig({ env: { ...env, PEERHUB_CONFIG: other }, systemConfigFile: system }).data_dir,
    '/srv/hub',
  );
});

t.test('a dev machine without the system file: embedded defaults', async (t) => {
  const c = loadConfig({ env, systemConfigFile: join(dir, 'missing.toml') });
  t.equal(c.data_dir, '/home/ann/.local/share/peerhub');
  t.equal(c.control_socket, '/home/ann/.local/share/peerhub/control.sock');
  t.equal(loadConfig({ env, systemConfigFile: null }).data_dir, '/home/ann/.local/share/peerhub');
});

t.test('an unreadable system file is reported like a named one', async (t) => {
  const bad = join(dir, 'bad.toml');
  writeFileSync(bad, 'port = [');
  t.throws(() => loadConfig({ env, systemConfigFile: bad }), { code: 'PH_ERR_CONFIG_INVALID' });
});
