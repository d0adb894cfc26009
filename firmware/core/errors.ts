/**
 * One catalog of stable error codes (fastify lib/errors.js, libp2p errors.ts).
 * APIs answer `{ code, message, statusCode }`; wrapping keeps `cause`.
 */
export const ErrorCodes = {
  PH_ERR_CONFIG_INVALID: 'invalid configuration',
  PH_ERR_CONFIG_UNREADABLE: 'configuration file unreadable',
  PH_ERR_IDENTITY_CORRUPT: 'identity files are corrupt or unreadable',
  PH_ERR_IDENTITY_INCOMPLETE: 'identity is incomplete',
  PH_ERR_STORE_CORRUPT: 'store file corrupt',
  PH_ERR_STORE_WRITE: 'store write failed',
  PH_ERR_STORE_VERSION: 'store written by a newer peerhub or not migratable',
  PH_ERR_PEER_ID_INVALID: 'invalid peer id',
  PH_ERR_PEER_NAME_INVALID: 'invalid peer name',
  PH_ERR_BAD_REQUEST: 'bad request',
  PH_ERR_NOT_FOUND: 'not found',
  PH_ERR_AGENT_UNREACHABLE: 'agent not running',
  PH_ERR_PRESENCE_SOCKET: 'mDNS socket failed',
  PH_ERR_INTERNAL: 'internal error',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class PeerhubError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, message?: string, opts: { statusCode?: number; cause?: unknown } = {}) {
    super(message ?? ErrorCodes[code], opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PeerhubError';
    this.code = code;
    this.statusCode = opts.statusCode ?? 500;
  }

  toJSON(): { code: ErrorCode; message: string; statusCode: number } {
    return { code: this.code, message: this.message, statusCode: this.statusCode };
  }
}

/** Wrap an error with a verb phrase ("load identity: …"), keeping the cause. */
export function wrap(code: ErrorCode, verb: string, cause: unknown, statusCode?: number): PeerhubError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new PeerhubError(code, `${verb}: ${detail}`, { cause, statusCode });
}

export function isPeerhubError(e: unknown, code?: ErrorCode): e is PeerhubError {
  return e instanceof PeerhubError && (code === undefined || e.code === code);
}
