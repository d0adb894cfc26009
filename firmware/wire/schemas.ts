/** Response and request schemas of the peer API (typebox → JSON schema; fastify validates and serializes). */
import { Type } from '@sinclair/typebox';
import { PRESENCE_STATES } from '../presence/types.js';

export const ErrorBody = Type.Object({
  code: Type.String(),
  message: Type.String(),
  statusCode: Type.Integer(),
});

export const CardBody = Type.Object({
  peerId: Type.String(),
  nickname: Type.String(),
  displayName: Type.String(),
  email: Type.String(),
  classifier: Type.String(),
  peerName: Type.String(),
  rootCertPem: Type.String(),
  endpoints: Type.Array(Type.String()),
});

export const PresenceBody = Type.Object({
  status: Type.Union(PRESENCE_STATES.map((s) => Type.Literal(s))),
  text: Type.String(),
  seq: Type.Integer({ minimum: 0 }),
});

/** Items are owned by the collaboration issue; the list shape is fixed here. */
const Item = Type.Object({ id: Type.String() }, { additionalProperties: true });
export const ApplicationsBody = Type.Array(Item);
export const ObjectsBody = Type.Array(Item);

export const EventsQuery = Type.Object(
  { since: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
);

/** Every route answers its declared body on 200 and `ErrorBody` otherwise. */
export function responses(ok: unknown): Record<string, unknown> {
  return { 200: ok, '4xx': ErrorBody, '5xx': ErrorBody };
}
