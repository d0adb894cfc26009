/**
 * The configuration as written in the TOML file (snake_case); flags and env map onto it.
 * Plain JSON Schema (validated by Ajv): no schema-builder library on the agent's start-up path.
 */
import { PanelConfigSchema, type PanelConfig } from '../../board/pins.js';

const LABEL = '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$';

const oneOf = (values: readonly string[], description: string) =>
  ({ anyOf: values.map((v) => ({ const: v })), description }) as const;

export const ConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['data_dir', 'nickname', 'classifier', 'control_socket', 'port', 'log_level', 'presence'],
  properties: {
    data_dir: { type: 'string', minLength: 1, description: 'state directory (identity, store)' },
    nickname: {
      type: 'string',
      minLength: 1,
      maxLength: 63,
      pattern: '^[^\\x00-\\x1f.][^\\x00-\\x1f]*$',
      description: 'shown to people near you; the DNS-SD instance name',
    },
    classifier: { type: 'string', pattern: LABEL, description: 'peer name suffix: <peer id>.<classifier>' },
    control_socket: { type: 'string', minLength: 1, description: 'control API Unix socket path' },
    port: { type: 'integer', minimum: 1, maximum: 65535, description: 'peer API port, announced in SRV' },
    interface: { type: 'string', minLength: 1, maxLength: 15, description: 'network interface' },
    log_level: oneOf(['debug', 'info', 'warn', 'error'], 'log level'),
    presence: {
      type: 'object',
      additionalProperties: false,
      required: ['backend', 'ttl_host', 'ttl_service'],
      properties: {
        backend: oneOf(
          ['auto', 'multicast-dns', 'avahi'],
          'presence backend: auto = Avahi over D-Bus when avahi-daemon answers on the system bus, else multicast-dns; avahi falls back to multicast-dns if unreachable',
        ),
        hostname: { type: 'string', pattern: LABEL, description: 'mDNS host label override' },
        ttl_host: { type: 'integer', minimum: 1, maximum: 86400, description: 'TTL of A records, seconds' },
        ttl_service: {
          type: 'integer',
          minimum: 1,
          maximum: 86400,
          description: 'TTL of PTR/SRV/TXT, seconds',
        },
      },
    },
    panel: {
      ...PanelConfigSchema,
      properties: {
        ...PanelConfigSchema.properties,
        remote_press: {
          type: 'boolean',
          description: 'allow `peerhub press` on a real panel (always allowed on the virtual board)',
        },
      },
    },
  },
} as const;

export interface Config {
  data_dir: string;
  nickname: string;
  classifier: string;
  control_socket: string;
  port: number;
  interface?: string;
  log_level: 'debug' | 'info' | 'warn' | 'error';
  presence: {
    backend: 'auto' | 'multicast-dns' | 'avahi';
    hostname?: string;
    ttl_host: number;
    ttl_service: number;
  };
  /** LEDs and buttons (board/pins.ts); missing keys take the shipped overlays' defaults. */
  panel?: Partial<PanelConfig> & { remote_press?: boolean };
}
