/**
 * One catalog of stable error codes (fastify lib/errors.js, libp2p errors.ts).
 * APIs answer `{ code, message, statusCode }`; wrapping keeps `cause`.
 */
export const ErrorCodes = {
  PH_ERR_CONFIG_INVALID: 'invalid configuration',
  PH_ERR_CONFIG_UNREADABLE: 'configuration file unreadable',
  PH_ERR_IDENTITY_CORRUPT: 'identity files are corrupt or unreadable',
  PH_ERR_IDENTITY_INCOMPLETE: 'identity is incomplete',
  PH_ERR_CERT_ISSUE: 'cannot issue certificate',
  PH_ERR_TLS_CREDENTIALS: 'TLS credentials unavailable',
  PH_ERR_CHAIN_EMPTY: 'no certificate presented',
  PH_ERR_CHAIN_PARSE: 'certificate unreadable',
  PH_ERR_CHAIN_SIGNATURE: 'certificate signature does not verify with its issuer',
  PH_ERR_CHAIN_EXPIRED: 'certificate expired',
  PH_ERR_CHAIN_NOT_YET_VALID: 'certificate not yet valid',
  PH_ERR_CHAIN_NOT_CA: 'issuer is not a certification authority',
  PH_ERR_CHAIN_KEYUSAGE: 'certificate key usage does not allow this use',
  PH_ERR_CHAIN_PATHLEN: 'certificate path length constraint exceeded',
  PH_ERR_CHAIN_TOO_DEEP: 'certificate chain too long',
  PH_ERR_CHAIN_OUTLIVES_ISSUER: 'certificate outlives its issuer',
  PH_ERR_CHAIN_UNTRUSTED: 'certificate chain does not end at a trusted root',
  PH_ERR_CHAIN_WEAK: 'certificate uses a weak or unsupported algorithm',
  PH_ERR_STORE_CORRUPT: 'store file corrupt',
  PH_ERR_STORE_WRITE: 'store write failed',
  PH_ERR_STORE_VERSION: 'store written by a newer peerhub or not migratable',
  PH_ERR_PEER_ID_INVALID: 'invalid peer id',
  PH_ERR_PEER_NAME_INVALID: 'invalid peer name',
  PH_ERR_BAD_REQUEST: 'bad request',
  PH_ERR_NOT_FOUND: 'not found',
  PH_ERR_AGENT_UNREACHABLE: 'agent not running',
  PH_ERR_PRESENCE_SOCKET: 'mDNS socket failed',
  PH_ERR_PEER_SPOOF: 'peer presented another peer id than expected',
  PH_ERR_PEER_UNREACHABLE: 'peer unreachable',
  PH_ERR_PEER_TIMEOUT: 'peer did not answer in time',
  PH_ERR_PEER_RESPONSE: 'peer answered with an error or a malformed response',
  PH_ERR_UNAUTHENTICATED: 'no verified client certificate',
  PH_ERR_FORBIDDEN: 'forbidden',
  PH_ERR_RATE_LIMITED: 'too many requests',
  PH_ERR_BODY_TOO_LARGE: 'request body too large',
  PH_ERR_CONTACT_NOT_FOUND: 'no such contact',
  PH_ERR_CONTACT_AMBIGUOUS: 'more than one contact matches',
  PH_ERR_CONTACT_EXISTS: 'contact already exists',
  PH_ERR_CONTACT_SELF: 'cannot add yourself as a contact',
  PH_ERR_CONTACT_INVALID: 'invalid contact field',
  PH_ERR_CONTACT_CERT_INVALID: 'contact certificate is not a usable self-signed root',
  PH_ERR_CONTACT_CERT_MISMATCH: 'contact certificate does not hash to the peer id',
  PH_ERR_CONTACT_FETCH: 'could not fetch the contact card',
  PH_ERR_CONTACT_XML_INVALID: 'malformed contact file',
  PH_ERR_CONTACT_XML_UNSAFE: 'contact file uses refused XML features (DOCTYPE, entities)',
  PH_ERR_CONTACT_XML_LIMIT: 'contact file exceeds a size, nesting or element limit',
  PH_ERR_INVITATION_INVALID: 'invalid invitation',
  PH_ERR_INVITATION_NOT_FOUND: 'no such invitation',
  PH_ERR_INVITATION_CLOSED: 'invitation is no longer pending',
  PH_ERR_INVITE_FORBIDDEN: 'this hub does not accept invitations from this peer',
  PH_ERR_HOST_REQUEST_INVALID: 'invalid host request',
  PH_ERR_HOST_REQUEST_NOT_FOUND: 'no such host request',
  PH_ERR_HOST_REQUEST_CLOSED: 'host request is no longer pending',
  PH_ERR_APPS_FULL: 'too many registered applications',
  PH_ERR_APP_NOT_FOUND: 'no such application',
  PH_ERR_APP_LAUNCH: 'application could not be launched',
  PH_ERR_OBJECTS_FULL: 'too many published objects',
  PH_ERR_OBJECT_NOT_FOUND: 'no such object',
  PH_ERR_SESSION_NOT_FOUND: 'no such session',
  PH_ERR_SESSION_ENDED: 'session has ended',
  PH_ERR_SESSION_NOT_INVITED: 'peer has no accepted invitation to this session',
  PH_ERR_SESSION_NOT_MEMBER: 'peer is not a registered member of this session',
  PH_ERR_SESSION_KEY_MISMATCH: 'member key does not belong to the registering peer',
  PH_ERR_SESSION_FULL: 'session or member limit reached',
  PH_ERR_SESSION_TEXT_TOO_LARGE: 'session message too large',
  PH_ERR_SESSION_BACKLOG_GONE: 'missed messages are no longer in the backlog: resync',
  PH_ERR_STARTING: 'the hub is starting: retry shortly',
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
