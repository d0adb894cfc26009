/**
 * Fuzz targets of the files a hub reads: contact XML exports, the TOML configuration, first-boot files.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../../firmware/config/load.js';
import { exportContact, parseContactXml } from '../../../../firmware/contacts/index.js';
import { isPeerhubError } from '../../../../firmware/core/errors.js';
import { parseFirstBoot, secretValues } from '../../../../firmware/firstboot/parse.js';
import { peerIdFromCertificate } from '../../../../firmware/identity/cert.js';
import type { FuzzTarget } from '../engine.js';

/** The repository root, from test/torture/fuzz/targets (sources) or dist/test/torture/fuzz/targets. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    try {
      readFileSync(join(dir, 'package.json'));
      if (readdirSync(dir).includes('firmware')) return dir;
    } catch {
      /* keep climbing */
    }
    dir = dirname(dir);
  }
  throw new Error('repository root not found');
}

class ContractError extends Error {
  override name = 'ContractError';
}

const words = (...s: string[]): Buffer[] => s.map((x) => Buffer.from(x));

// ---- (e) contact XML --------------------------------------------------------------------------------

let contactSeeds: Buffer[] | null = null;

/** parseContactXml: a checked card, or a PeerhubError with a PH_ERR_CONTACT_* code. */
export const contactXml: FuzzTarget = {
  name: 'contact-xml',
  title: 'Contact XML import',
  contract:
    'parseContactXml returns a checked card or throws PeerhubError PH_ERR_CONTACT_* (XML invalid/unsafe/limit, field, certificate)',
  maxLen: 70 * 1024,
  cover: ['/firmware/contacts/', '/firmware/identity/'],
  dictionary: words(
    '<!DOCTYPE x [<!ENTITY a "b">]>',
    '<!ENTITY',
    '&amp;',
    '&lt;',
    '&#x10FFFF;',
    '&#0;',
    '&#xD800;',
    '&#65;',
    '&a;',
    '<![CDATA[',
    ']]>',
    '<!--',
    '-->',
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<?pi x?>',
    '</',
    '/>',
    '="',
    "='",
    'xmlns:x="y"',
    '<endpoint>',
    '</endpoint>',
    '<nickname>',
    '</nickname>',
    '-----BEGIN CERTIFICATE-----',
    '-----END CERTIFICATE-----',
    '\ufeff',
    '\u0000',
    '\ud83c\udf89',
  ),
  seeds() {
    if (!contactSeeds) {
      // A root made once by createRootCertificate (fixed, so the seeds and the run are reproducible).
      const root = repoRoot();
      const rootCertPem = readFileSync(join(root, 'test/torture/fuzz/seeds/contact-root.pem'), 'utf8');
      const card = {
        peerId: peerIdFromCertificate(rootCertPem),
        nickname: 'Kitchen',
        displayName: 'Alice <"&\'> Ünïcødé 🎉',
        email: 'alice+hub@example.org',
        rootCertPem,
        endpoints: ['10.77.0.1:7443', '[fe80::1]:7443'],
      };
      const fixtures = join(root, 'test/unit/contacts/fixtures');
      contactSeeds = [
        Buffer.from(exportContact(card)),
        Buffer.from(exportContact({ ...card, displayName: '', email: '', endpoints: [] })),
        ...readdirSync(fixtures)
          .filter((f) => f.endsWith('.xml'))
          .sort()
          .map((f) => readFileSync(join(fixtures, f))),
      ];
    }
    return contactSeeds;
  },
  run(input) {
    try {
      const card = parseContactXml(input);
      if (typeof card.peerId !== 'string' || !Array.isArray(card.endpoints))
        throw new ContractError('card without a peer id or endpoints');
    } catch (e) {
      if (isPeerhubError(e) && e.code.startsWith('PH_ERR_CONTACT_')) return;
      throw e;
    }
  },
};

// ---- (f) configuration ------------------------------------------------------------------------------

let configDir: string | null = null;
const TOML_WORDS = words(
  '[presence]',
  '[[presence]]',
  '[a.b.c]',
  '__proto__',
  'constructor',
  'prototype',
  ' = ',
  '"""',
  "'''",
  '\\u0000',
  '\\U0010FFFF',
  '\\ud800',
  'inf',
  'nan',
  '-0',
  '0x7fffffff',
  '1e999',
  '99999999999999999999',
  '1979-05-27T07:32:00Z',
  '07:32:00',
  '{ a = 1 }',
  '[1, [2], "x"]',
  'true',
  'port = 7443',
  'backend = "avahi"',
  'ttl_host = 0',
  'log_level = "debug"',
  '\r\n',
  '#',
);

/** loadConfig on a TOML file: a validated config, or PeerhubError PH_ERR_CONFIG_INVALID naming the problem. */
export const configFile: FuzzTarget = {
  name: 'config',
  title: 'Configuration file (TOML)',
  contract:
    'loadConfig returns a config that passed the schema (own plain properties only) or throws PeerhubError PH_ERR_CONFIG_INVALID',
  maxLen: 8192,
  cover: ['/firmware/config/', '/smol-toml/'],
  dictionary: TOML_WORDS,
  seeds() {
    const root = repoRoot();
    return [
      readFileSync(join(root, 'config/peerhub.example.toml')),
      readFileSync(join(root, 'deploy/deb/peerhub.toml')),
      readFileSync(join(root, 'config/firstboot.example.toml')),
      Buffer.from(
        'nickname = "Kitchen"\nport = 7443\n[presence]\nbackend = "multicast-dns"\nttl_host = 120\n',
      ),
    ];
  },
  async setup() {
    // A file per input: on tmpfs when there is one (ten times faster than a disk-backed /tmp).
    configDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'peerhub-fuzz-config-'));
  },
  async teardown() {
    if (configDir) rmSync(configDir, { recursive: true, force: true });
    configDir = null;
  },
  run(input) {
    const file = join(configDir as string, 'peerhub.toml');
    writeFileSync(file, input);
    let cfg: Record<string, unknown>;
    try {
      cfg = loadConfig({ configFile: file, systemConfigFile: null, env: {} }) as unknown as Record<
        string,
        unknown
      >;
    } catch (e) {
      if (isPeerhubError(e, 'PH_ERR_CONFIG_INVALID')) return;
      throw e;
    }
    if (Object.getPrototypeOf(cfg) !== Object.prototype)
      throw new ContractError('config has a foreign prototype');
    if (({} as Record<string, unknown>).peerhubPolluted !== undefined)
      throw new ContractError('Object.prototype polluted');
    for (const k of [
      'data_dir',
      'nickname',
      'classifier',
      'port',
      'log_level',
      'presence',
      'control_socket',
    ]) {
      if (!Object.hasOwn(cfg, k)) throw new ContractError(`config.${k} is not an own property`);
    }
  },
};

// ---- (g) first boot --------------------------------------------------------------------------------

const ZONES = new Set(['Europe/Paris', 'UTC', 'America/New_York']);

/** parseFirstBoot: never throws; never repeats a secret (a passphrase) in its errors or warnings. */
export const firstBootFile: FuzzTarget = {
  name: 'firstboot',
  title: 'First-boot file (TOML)',
  contract:
    'parseFirstBoot never throws; a secret that appears once in the file never appears in an error or warning line',
  maxLen: 16 * 1024,
  cover: ['/firmware/firstboot/', '/smol-toml/'],
  dictionary: [
    ...TOML_WORDS,
    ...words(
      '[wifi]',
      '[ssh]',
      'ssid = "home"',
      'passphrase = "correct horse battery"',
      'country = "FR"',
      'authorized_keys = [',
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
      'timezone = "Europe/Paris"',
      'hostname = "kitchen-hub"',
    ),
  ],
  seeds() {
    const root = repoRoot();
    return [
      readFileSync(join(root, 'config/firstboot.example.toml')),
      Buffer.from(
        'hostname = "kitchen"\nnickname = "Kitchen"\ntimezone = "Europe/Paris"\n[wifi]\nssid = "home"\npassphrase = "hunter2hunter2"\ncountry = "fr"\n[ssh]\nauthorized_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop"]\n',
      ),
      Buffer.from('[wifi]\nssid = "x"\npassphrase = "short"\ncountry = "ZZ"\n'),
    ];
  },
  run(input) {
    const text = input.toString('utf8');
    const out = parseFirstBoot(text, { zoneExists: (tz) => ZONES.has(tz) });
    if (!Array.isArray(out.errors) || !Array.isArray(out.warnings)) throw new ContractError('no error list');
    const lines = [...out.errors, ...out.warnings].join('\n');
    for (const s of secretValues(text)) {
      if (s.length < 6 || text.split(s).length !== 2) continue; // short or repeated elsewhere: not telling
      if (lines.includes(s)) throw new ContractError('a secret appears in the error lines');
    }
  },
};
