/** Peer API: HTTP/2 over mutual TLS 1.3 between hubs (server, client, limits). */
export type {
  ContactCard,
  PeerApiDeps,
  PeerAuth,
  PeerClientDeps,
  PeerPresence,
  PeerTarget,
  Subscription,
  TlsCredentials,
  TlsCredentialsSource,
  WireEvents,
} from './types.js';
export { buildPeerApi, BODY_LIMIT, EVENT_HEARTBEAT_MS, PEER_EVENT_TYPES } from './app.js';
export type { PeerApiInit, PeerApiTransport } from './app.js';
export { startPeerServer, DEFAULT_PEER_PORT, SERVER_DEFAULTS } from './server.js';
export type { PeerServer, PeerServerDeps, PeerServerInit } from './server.js';
export { PeerClient } from './client.js';
export type { PeerClientInit } from './client.js';
export { CLIENT_DEFAULTS, proveEndpoint } from './connection.js';
export { DEFAULT_RATE_LIMIT, TokenBuckets } from './limits.js';
export type { RateLimit } from './limits.js';
