import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../firmware/config/load.js';

const env = { HOME: '/home/ann' } as NodeJS.ProcessEnv;
const dir = mkdtempSync(join(tmpdir(), 'ph-config-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '(no error)';
};

t.test('embedded defaults: user data dir, socket inside it, port 7443', async (t) => {
  const c = loadConfig({ env });
  t.equal(c.data_dir, '/home/ann/.local/share/peerhub');
  t.equal(c.control_socket, '/home/ann/.local/share/peerhub/control.sock');
  t.equal(c.port, 7443);
  t.equal(c.classifier, 'hub');
  t.equal(c.presence.backend, 'auto');
  t.equal(c.presence.ttl_host, 120);
  t.equal(c.presence.ttl_service, 60);
  t.equal(loadConfig({ env: { ...env, XDG_DATA_HOME: '/x' } }).data_dir, '/x/peerhub');
});

t.test('precedence: defaults < file < env < flags', async (t) => {
  const f = file(
    'a.toml',
    'nickname = "FromFile"\nport = 8000\nclassifier = "file"\n[presence]\nttl_host = 8\n',
  );
  const c = loadConfig({
    configFile: f,
    env: { ...env, PEERHUB_PORT: '8100', PEERHUB_CLASSIFIER: 'env' },
    flags: { classifier: 'flag' },
  });
  t.equal(c.nickname, 'FromFile');
  t.equal(c.port, 8100);
  t.equal(c.classifier, 'flag');
  t.equal(c.presence.ttl_host, 8);
  t.equal(c.presence.ttl_service, 60, 'section keys merge with defaults');
  t.equal(
    loadConfig({ env: { ...env, PEERHUB_CONFIG: f } }).nickname,
    'FromFile',
    'PEERHUB_CONFIG names the file',
  );
});

t.test('a bad value is one line naming the key and where it came from', async (t) => {
  t.equal(
    message(() => loadConfig({ env, flags: { port: '70000' } })),
    'invalid configuration: port (--port): must be <= 65535',
  );
  t.equal(
    message(() => loadConfig({ env, flags: { port: 'abc' } })),
    'invalid configuration: port (--port): must be integer',
  );
  t.equal(
    message(() => loadConfig({ env: { ...env, PEERHUB_LOG_LEVEL: 'loud' } })),
    'invalid configuration: log_level (PEERHUB_LOG_LEVEL): must be one of debug, info, warn, error',
  );
  const f = file('b.toml', '[presence]\nttl_host = 0\n');
  t.equal(
    message(() => loadConfig({ configFile: f, env })),
    `invalid configuration: presence.ttl_host (in ${f}): must be >= 1`,
  );
  const g = file('c.toml', 'colour = "blue"\n');
  t.equal(
    message(() => loadConfig({ configFile: g, env })),
    `invalid configuration: colour (in ${g}): unknown key`,
  );
  t.match(
    message(() => loadConfig({ env, flags: { classifier: 'bad name!' } })),
    /^invalid configuration: classifier \(--classifier\): must match pattern/,
  );
  t.match(
    message(() => loadConfig({ env, flags: { nickname: '' } })),
    /nickname \(--nickname\): must NOT have fewer than 1 characters/,
  );
});

t.test('unreadable or malformed files are clear errors', async (t) => {
  t.match(
    message(() => loadConfig({ configFile: join(dir, 'missing.toml'), env })),
    /^cannot read config file .*missing\.toml: ENOENT/,
  );
  const f = file('bad.toml', 'port = = 3\n');
  t.match(
    message(() => loadConfig({ configFile: f, env })),
    new RegExp(`^invalid configuration: ${f} is not valid TOML: `),
  );
  const h = file('arr.toml', 'presence = 3\n');
  t.match(
    message(() => loadConfig({ configFile: h, env })),
    /presence .*must be object/,
  );
});

t.test('the config schema is itself a valid JSON Schema (the agent skips this check at start)', async (t) => {
  const { Ajv } = await import('ajv');
  const { ConfigSchema } = await import('../../../firmware/config/schema.js');
  const ajv = new Ajv({ strict: true });
  t.equal(ajv.validateSchema(ConfigSchema), true, JSON.stringify(ajv.errors));
  t.doesNotThrow(() => ajv.compile(ConfigSchema));
});

t.test('a __proto__ key whose value is an object (a date, an inline table) is refused', async (t) => {
  for (const text of [
    '__proto__=2979-05-27T07:00', // found by the fuzzer: the date became the table's prototype
    '__proto__ = { nickname = "Inherited" }',
    '[presence]\n__proto__ = { ttl_host = 1 }',
  ]) {
    const f = file('proto.toml', text);
    t.throws(
      () => loadConfig({ configFile: f, env }),
      { code: 'PH_ERR_CONFIG_INVALID', message: /"__proto__" is not allowed/ },
      JSON.stringify(text),
    );
  }
});
