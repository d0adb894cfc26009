/**
 * The first-boot file as written on the boot partition (plain JSON Schema, validated by Ajv). The
 * nickname and classifier rules are the agent's own (firmware/config/schema.ts); a host name is an
 * RFC 1123 label, the same rule as the classifier. Semantic checks (SSID bytes, country list, time
 * zone on disk, key blobs) live in parse.ts.
 */
import { ConfigSchema } from '../config/schema.js';

const { nickname, classifier } = ConfigSchema.properties;

/** Time zone names as tzdata spells them (no dots: no `..`, no zone.tab). */
const TZ = '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$';

export const FirstBootSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    hostname: { type: 'string', pattern: classifier.pattern, description: 'host name (RFC 1123 label)' },
    nickname,
    classifier,
    timezone: { type: 'string', pattern: TZ, description: 'tz database name' },
    wifi: {
      type: 'object',
      additionalProperties: false,
      required: ['ssid', 'country'],
      properties: {
        ssid: { type: 'string', minLength: 1, description: 'network name, 1–32 bytes' },
        passphrase: {
          type: 'string',
          anyOf: [{ pattern: '^[\\x20-\\x7e]{8,63}$' }, { pattern: '^[0-9A-Fa-f]{64}$' }],
          description: 'WPA passphrase (8–63 printable ASCII) or 64 hex digits',
        },
        country: { type: 'string', pattern: '^[A-Za-z]{2}$', description: 'ISO 3166 alpha-2' },
      },
    },
    ssh: {
      type: 'object',
      additionalProperties: false,
      properties: {
        authorized_keys: { type: 'array', items: { type: 'string' }, description: 'public key lines' },
      },
    },
  },
} as const;

/** What each key must be, for the one-line messages (`<key>: must be …`). */
export const RULES: Readonly<Record<string, string>> = {
  hostname: "a host name: 1–63 letters, digits or '-', not starting or ending with '-'",
  nickname: 'a name of 1–63 characters, without control characters, not starting with "."',
  classifier: "1–63 letters, digits or '-', not starting or ending with '-'",
  timezone: 'a time zone name such as "Europe/Paris" or "UTC"',
  wifi: 'a table: [wifi] with ssid, passphrase and country',
  'wifi.ssid': 'the network name (1–32 bytes)',
  'wifi.passphrase': '8–63 printable ASCII characters, or 64 hex digits',
  'wifi.country': 'a two-letter ISO 3166 country code such as "FR" (sets the radio rules)',
  ssh: 'a table: [ssh] with authorized_keys',
  'ssh.authorized_keys': 'a list of public key lines, e.g. ["ssh-ed25519 AAAA… you@laptop"]',
};
