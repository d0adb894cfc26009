/**
 * Response and request schemas of the peer API: plain JSON Schema (fastify validates requests and
 * serializes responses with them). No schema-builder library on the agent's start-up path.
 */
import { PRESENCE_STATES } from '../presence/types.js';

const str = { type: 'string' } as const;

export const ErrorBody = {
  type: 'object',
  required: ['code', 'message', 'statusCode'],
  properties: { code: str, message: str, statusCode: { type: 'integer' } },
} as const;

export const CardBody = {
  type: 'object',
  required: [
    'peerId',
    'nickname',
    'displayName',
    'email',
    'classifier',
    'peerName',
    'rootCertPem',
    'endpoints',
  ],
  properties: {
    peerId: str,
    nickname: str,
    displayName: str,
    email: str,
    classifier: str,
    peerName: str,
    rootCertPem: str,
    endpoints: { type: 'array', items: str },
  },
} as const;

export const PresenceBody = {
  type: 'object',
  required: ['status', 'text', 'seq'],
  properties: {
    status: { type: 'string', enum: [...PRESENCE_STATES] },
    text: str,
    seq: { type: 'integer', minimum: 0 },
  },
} as const;

/** Items are owned by the collaboration issue; the list shape is fixed here. */
const Item = {
  type: 'object',
  required: ['id'],
  properties: { id: str },
  additionalProperties: true,
} as const;
export const ApplicationsBody = { type: 'array', items: Item } as const;
export const ObjectsBody = { type: 'array', items: Item } as const;

export const EventsQuery = {
  type: 'object',
  properties: { since: { type: 'integer', minimum: 0 } },
  additionalProperties: false,
} as const;

/** Every route answers its declared body on 200 and `ErrorBody` otherwise. */
export function responses(ok: unknown): Record<string, unknown> {
  return { 200: ok, '4xx': ErrorBody, '5xx': ErrorBody };
}
