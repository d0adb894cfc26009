import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseToml } from 'smol-toml';
import { PeerhubError } from '../core/errors.js';
import { protoKeyAt, protoKeyMessage } from '../core/toml.js';
import { defaultDataDir, defaultNickname } from './paths.js';
import { ConfigSchema, type Config } from './schema.js';
import { TTL_HOST_S, TTL_SERVICE_S } from '../presence/constants.js';

export { defaultDataDir, defaultNickname };

/** Where a value came from, so an error names the key the way the user wrote it. */
type Source = 'default' | 'file' | 'env' | 'flag';

/** Flags and environment variables, keyed by the config path they set. */
export const SETTINGS: ReadonlyArray<{ path: string; flag: string; env: string; type: 'string' | 'int' }> = [
  { path: 'data_dir', flag: '--data-dir', env: 'PEERHUB_DATA_DIR', type: 'string' },
  { path: 'nickname', flag: '--nickname', env: 'PEERHUB_NICKNAME', type: 'string' },
  { path: 'classifier', flag: '--classifier', env: 'PEERHUB_CLASSIFIER', type: 'string' },
  { path: 'control_socket', flag: '--control-socket', env: 'PEERHUB_CONTROL_SOCKET', type: 'string' },
  { path: 'port', flag: '--port', env: 'PEERHUB_PORT', type: 'int' },
  { path: 'interface', flag: '--interface', env: 'PEERHUB_INTERFACE', type: 'string' },
  { path: 'log_level', flag: '--log-level', env: 'PEERHUB_LOG_LEVEL', type: 'string' },
];

function defaults(env: NodeJS.ProcessEnv): Record<string, unknown> {
  return {
    data_dir: defaultDataDir(env),
    nickname: defaultNickname(),
    classifier: 'hub',
    port: 7443,
    log_level: 'info',
    presence: { backend: 'auto', ttl_host: TTL_HOST_S, ttl_service: TTL_SERVICE_S },
  };
}

/** The installed package's config (deploy/deb/peerhub.toml): used when no file is named. */
export const SYSTEM_CONFIG_FILE = '/etc/peerhub/peerhub.toml';

export interface LoadInput {
  configFile?: string;
  /** Read when neither `configFile` nor PEERHUB_CONFIG names a file and it exists (tests: another path, or null for none). */
  systemConfigFile?: string | null;
  flags?: Record<string, string | undefined>; // keyed by path (data_dir, port…)
  env?: NodeJS.ProcessEnv;
}

// The schema is ours and fixed: it is checked once by a unit test, not at every start (≈ 45 ms saved).
const ajv = new Ajv({
  allErrors: false,
  strict: true,
  verbose: true,
  code: { optimize: false },
  validateSchema: false,
});
const validate = ajv.compile<Config>(ConfigSchema);

function describe(err: ErrorObject, sources: Map<string, Source>, file?: string): string {
  const path = err.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra =
    err.keyword === 'additionalProperties' ? (err.params as { additionalProperty: string }) : null;
  const key = extra ? (path ? `${path}.${extra.additionalProperty}` : extra.additionalProperty) : path;
  const setting = SETTINGS.find((s) => s.path === key);
  const src = sources.get(key) ?? 'file';
  const where =
    src === 'flag' && setting
      ? ` (${setting.flag})`
      : src === 'env' && setting
        ? ` (${setting.env})`
        : src === 'file' && file
          ? ` (in ${file})`
          : '';
  const choices = (err.parentSchema as { anyOf?: Array<{ const?: unknown }> } | undefined)?.anyOf;
  const what = extra
    ? 'unknown key'
    : err.keyword === 'anyOf' && choices
      ? `must be one of ${choices.map((c) => String(c.const)).join(', ')}`
      : (err.message ?? 'invalid');
  return `invalid configuration: ${key || '(root)'}${where}: ${what}`;
}

/** Merge defaults < file < env < flags, validate, and return a typed config or throw one clear line. */
export function loadConfig(input: LoadInput = {}): Config {
  const env = input.env ?? process.env;
  const sources = new Map<string, Source>();
  const cfg: Record<string, unknown> = defaults(env);
  const system = input.systemConfigFile === undefined ? SYSTEM_CONFIG_FILE : input.systemConfigFile;
  const file = input.configFile || env.PEERHUB_CONFIG || (system && existsSync(system) ? system : undefined);
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new PeerhubError(
        'PH_ERR_CONFIG_UNREADABLE',
        `cannot read config file ${file}: ${(e as Error).message}`,
      );
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      const first = String((e as Error).message).split('\n')[0];
      throw new PeerhubError(
        'PH_ERR_CONFIG_INVALID',
        `invalid configuration: ${file} is not valid TOML: ${first}`,
      );
    }
    const proto = protoKeyAt(parsed);
    if (proto !== null) {
      throw new PeerhubError(
        'PH_ERR_CONFIG_INVALID',
        `invalid configuration: ${file}: ${protoKeyMessage(proto)}`,
      );
    }
    for (const [k, v] of Object.entries(parsed)) {
      if (k === 'presence' && v && typeof v === 'object' && !Array.isArray(v)) {
        cfg.presence = { ...(cfg.presence as object), ...(v as object) };
        for (const sub of Object.keys(v)) sources.set(`presence.${sub}`, 'file');
      } else {
        cfg[k] = v;
        sources.set(k, 'file');
      }
    }
  }
  const apply = (s: (typeof SETTINGS)[number], raw: string, src: Source): void => {
    sources.set(s.path, src);
    if (s.type === 'int') cfg[s.path] = /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    else cfg[s.path] = raw;
  };
  for (const s of SETTINGS) {
    const v = env[s.env];
    if (v !== undefined && v !== '') apply(s, v, 'env');
  }
  for (const s of SETTINGS) {
    const v = input.flags?.[s.path];
    if (v !== undefined) apply(s, v, 'flag');
  }
  if (cfg.control_socket === undefined) cfg.control_socket = join(String(cfg.data_dir), 'control.sock');
  if (!validate(cfg)) {
    // A union reports each branch's failure first; the union's own error is the one a person can read.
    const err = validate.errors?.find((e) => e.keyword === 'anyOf') ?? validate.errors?.[0];
    throw new PeerhubError(
      'PH_ERR_CONFIG_INVALID',
      err ? describe(err, sources, file) : 'invalid configuration',
    );
  }
  return cfg;
}
