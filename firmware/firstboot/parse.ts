/**
 * Parse and validate a first-boot file. Pure (the time zone lookup is injected). Every problem is
 * collected, one line each naming its key; the valid subset is kept: a bad field skips only itself,
 * any bad Wi-Fi field skips the whole [wifi] table, a bad key line skips only that line.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseToml, TomlError } from 'smol-toml';
import { protoKeyAt, protoKeyMessage } from '../core/toml.js';
import { COUNTRY_CODES } from './countries.js';
import { FirstBootSchema, RULES } from './schema.js';
import { keyId, keyLabel, parseKeyLine } from './ssh-keys.js';
import type { FirstBootSettings, ParseOutcome } from './types.js';

export interface ParseOptions {
  /** Name used in messages (default `peerhub.toml`). */
  file?: string;
  /** Does this tz name exist on the target (e.g. a TZif file under /usr/share/zoneinfo)? Unchecked if absent. */
  zoneExists?: (tz: string) => boolean;
}

const ajv = new Ajv({ allErrors: true, strict: true, code: { optimize: false } });
const validate = ajv.compile(FirstBootSchema);

const SECRET_KEYS = new Set(['wifi.passphrase']);
const WIFI_SKIPPED = '; Wi-Fi not configured';

function got(key: string, value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') {
    if (SECRET_KEYS.has(key)) return ` (got ${[...value].length} characters)`;
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return ` (got ${JSON.stringify(shown)})`;
  }
  if (Array.isArray(value)) return ' (got a list)';
  if (value !== null && typeof value === 'object') return ' (got a table)';
  return ` (got ${typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value})`;
}

/** Report problems in the order the keys are documented (sort is stable: key lines keep theirs). */
const ORDER = [
  'hostname',
  'nickname',
  'classifier',
  'timezone',
  'wifi',
  'wifi.ssid',
  'wifi.passphrase',
  'wifi.country',
  'ssh',
];
function rank(key: string): number {
  const m = /^ssh\.authorized_keys(?:\.(\d+))?$/.exec(key);
  if (m) return ORDER.length + (m[1] === undefined ? 0 : 1 + Number(m[1]));
  const i = ORDER.indexOf(key);
  return i < 0 ? ORDER.length : i;
}

function at(root: Record<string, unknown>, path: string[]): unknown {
  let v: unknown = root;
  for (const p of path)
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** First line of a TOML error, with its position, never the quoted source (it may hold a secret). */
function tomlProblem(e: unknown, file: string): string {
  const first = String((e as Error).message ?? e)
    .split('\n')[0]!
    .replace(/^Invalid TOML document:\s*/, '');
  const pos = e instanceof TomlError ? ` at line ${e.line}, column ${e.column}` : '';
  return `${file}: not valid TOML${pos}: ${first}; nothing applied`;
}

export function parseFirstBoot(text: string, opts: ParseOptions = {}): ParseOutcome {
  const file = opts.file ?? 'peerhub.toml';
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    return { parsed: false, settings: {}, errors: [tomlProblem(e, file)], warnings: [] };
  }
  const proto = protoKeyAt(doc);
  if (proto !== null) {
    return {
      parsed: false,
      settings: {},
      errors: [`${file}: ${protoKeyMessage(proto)}; nothing applied`],
      warnings: [],
    };
  }
  const problems: Array<{ key: string; line: string }> = [];
  const warnings: string[] = [];
  /** Keys (dotted; key lines as `ssh.authorized_keys.N`) that failed. */
  const bad = new Set<string>();
  const fail = (key: string, message: string): void => {
    bad.add(key);
    const wifi = key === 'wifi' || key.startsWith('wifi.');
    const name = key.replace(
      /^ssh\.authorized_keys\.(\d+)$/,
      (_m, n: string) => `ssh.authorized_keys, key ${Number(n) + 1}`,
    );
    problems.push({ key, line: `${name}: ${message}${wifi ? WIFI_SKIPPED : ''}` });
  };

  if (!validate(doc)) {
    const seen = new Set<string>();
    for (const err of validate.errors as ErrorObject[]) {
      const path = err.instancePath.split('/').filter(Boolean);
      if (err.keyword === 'additionalProperties') {
        const extra = (err.params as { additionalProperty: string }).additionalProperty;
        warnings.push(`${[...path, extra].join('.')}: unknown key, ignored`);
        continue;
      }
      if (err.keyword === 'required') {
        const missing = [...path, (err.params as { missingProperty: string }).missingProperty].join('.');
        if (!seen.has(missing)) {
          seen.add(missing);
          fail(missing, `missing (required with [${path.join('.')}]): ${RULES[missing] ?? 'a value'}`);
        }
        continue;
      }
      const key = path.join('.');
      if (seen.has(key)) continue; // anyOf reports each branch: one line per key
      seen.add(key);
      const rule = RULES[key] ?? RULES[path.slice(0, 2).join('.')] ?? 'valid';
      const what = /^ssh\.authorized_keys\.\d+$/.test(key) ? 'a public key line in quotes' : rule;
      fail(key, `must be ${what}${got(key, at(doc, path))}`);
    }
  }

  const settings: FirstBootSettings = {};
  const ok = (key: string): boolean => at(doc, key.split('.')) !== undefined && !bad.has(key);
  for (const key of ['hostname', 'nickname', 'classifier'] as const) {
    if (ok(key)) settings[key] = doc[key] as string;
  }
  if (ok('timezone')) {
    const tz = doc.timezone as string;
    if (opts.zoneExists && !opts.zoneExists(tz)) {
      fail(
        'timezone',
        `unknown time zone ${JSON.stringify(tz)} (no /usr/share/zoneinfo/${tz} on this system)`,
      );
    } else settings.timezone = tz;
  }

  if (ok('wifi')) {
    // Semantic checks on the fields that passed the schema, so every Wi-Fi problem is reported at once.
    const w = doc.wifi as { ssid?: string; passphrase?: string; country?: string };
    if (ok('wifi.ssid') && w.ssid !== undefined) {
      const bytes = Buffer.byteLength(w.ssid, 'utf8');
      if (bytes > 32) fail('wifi.ssid', `must be ${RULES['wifi.ssid']} (got ${bytes} bytes)`);
    }
    if (ok('wifi.country') && w.country !== undefined && !COUNTRY_CODES.has(w.country.toUpperCase())) {
      fail(
        'wifi.country',
        `${JSON.stringify(w.country)} is not an ISO 3166 country code (e.g. "FR", "US", "DE")`,
      );
    }
    if (![...bad].some((k) => k.startsWith('wifi.')) && w.ssid !== undefined && w.country !== undefined) {
      const { ssid, passphrase } = w;
      settings.wifi = {
        ssid,
        country: w.country.toUpperCase(),
        ...(passphrase === undefined ? {} : { passphrase }),
      };
    }
  }

  if (ok('ssh') && !bad.has('ssh.authorized_keys')) {
    const lines = ((doc.ssh as { authorized_keys?: unknown[] }).authorized_keys ?? []) as unknown[];
    const keep: string[] = [];
    const ids = new Set<string>();
    lines.forEach((raw, i) => {
      if (bad.has(`ssh.authorized_keys.${i}`) || typeof raw !== 'string') return;
      const k = parseKeyLine(raw);
      if (typeof k === 'string') {
        const label = keyLabel(raw);
        fail(`ssh.authorized_keys.${i}`, label ? `${k} (${label})` : k);
        return;
      }
      const id = keyId(k.line) as string;
      if (ids.has(id)) {
        warnings.push(
          `ssh.authorized_keys, key ${i + 1}: duplicate of an earlier key, ignored (${keyLabel(raw)})`,
        );
        return;
      }
      ids.add(id);
      keep.push(k.line);
    });
    if (keep.length) settings.ssh = { authorized_keys: keep };
  }
  const errors = problems.sort((a, b) => rank(a.key) - rank(b.key)).map((p) => p.line);
  return { parsed: true, settings, errors, warnings };
}

/** Every string value under a key that names a secret (passphrase, psk, password), at any depth. */
export function secretValues(text: string): string[] {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (v: unknown, secret: boolean): void => {
    if (typeof v === 'string') {
      if (secret) out.push(v);
    } else if (Array.isArray(v)) v.forEach((x) => walk(x, secret));
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, secret || /passphrase|psk|password/i.test(k));
    }
  };
  walk(doc, false);
  return out;
}
