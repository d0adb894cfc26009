import { Type, type Static } from '@sinclair/typebox';

const LABEL = '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$';

/** The configuration as written in the TOML file (snake_case); flags and env map onto it. */
export const ConfigSchema = Type.Object(
  {
    data_dir: Type.String({ minLength: 1, description: 'state directory (identity, store)' }),
    nickname: Type.String({
      minLength: 1,
      maxLength: 63,
      pattern: '^[^\\x00-\\x1f.][^\\x00-\\x1f]*$',
      description: 'shown to people near you; the DNS-SD instance name',
    }),
    classifier: Type.String({ pattern: LABEL, description: 'peer name suffix: <peer id>.<classifier>' }),
    control_socket: Type.String({ minLength: 1, description: 'control API Unix socket path' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, description: 'peer API port, announced in SRV' }),
    interface: Type.Optional(Type.String({ minLength: 1, maxLength: 15, description: 'network interface' })),
    log_level: Type.Union(
      [Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')],
      { description: 'log level' },
    ),
    presence: Type.Object(
      {
        backend: Type.Union([Type.Literal('auto'), Type.Literal('multicast-dns')], {
          description: 'presence backend (auto = multicast-dns until the Avahi backend lands)',
        }),
        hostname: Type.Optional(Type.String({ pattern: LABEL, description: 'mDNS host label override' })),
        ttl_host: Type.Integer({ minimum: 1, maximum: 86400, description: 'TTL of A records, seconds' }),
        ttl_service: Type.Integer({ minimum: 1, maximum: 86400, description: 'TTL of PTR/SRV/TXT, seconds' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
