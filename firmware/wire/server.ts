/**
 * The listening peer API: HTTP/2 over TLS 1.3 only, client certificates required and checked by our own
 * chain validation (any self-signed root: the caller is the peer id of the root its chain ends at).
 * Limits: connections, sessions per peer, session memory, streams, header list, time-outs.
 */
import { constants as cryptoConstants } from 'node:crypto';
import {
  constants as h2,
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2Session,
  type SecureServerOptions,
} from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { isPeerhubError } from '../core/errors.js';
import { shortId } from '../identity/peerid.js';
import { buildPeerApi, type PeerApiInit } from './app.js';
import { credentialOptions, peerChainFromSocket, verifyChainDer } from './trust.js';
import type { PeerApiDeps, PeerAuth, TlsCredentialsSource } from './types.js';

export const DEFAULT_PEER_PORT = 7443;
export const SERVER_DEFAULTS = {
  maxConnections: 256,
  /**
   * Connections from one source address at most (slow clients: one host trickling ClientHellos could
   * otherwise hold every one of maxConnections and lock every peer out, 10 s at a time, for good).
   */
  maxConnectionsPerAddress: 32,
  maxSessionsPerPeer: 8,
  /** A TLS handshake must finish within this. */
  handshakeTimeoutMs: 10_000,
  /** After the handshake, the first request's headers must arrive within this (slow clients). */
  headersTimeoutMs: 10_000,
  /** A request body must arrive completely within this. */
  requestTimeoutMs: 10_000,
  /** A session without any traffic (pings count) is closed after this. */
  idleTimeoutMs: 120_000,
  /** MB of nghttp2 buffers per session (Node's maxSessionMemory). */
  maxSessionMemory: 4,
  maxConcurrentStreams: 32,
  maxHeaderListSize: 16 * 1024,
};

export interface PeerServerInit extends PeerApiInit, Partial<typeof SERVER_DEFAULTS> {
  host?: string;
  port?: number;
}

export interface PeerServerDeps extends PeerApiDeps {
  credentials: TlsCredentialsSource;
}

export interface PeerServer {
  readonly app: FastifyInstance;
  readonly server: Http2SecureServer;
  readonly port: number;
  counters(): Record<string, number>;
  /** End every session of a peer now (e.g. its subscription was just blocked). */
  dropPeer(peerId: string): void;
  stop(): Promise<void>;
}

/** Listen on `host:port` (port 0: any) and serve the peer API. Only the agent (and tests) call this. */
export async function startPeerServer(deps: PeerServerDeps, init: PeerServerInit = {}): Promise<PeerServer> {
  const o = { ...SERVER_DEFAULTS, ...init };
  const log = deps.logger.child({ component: 'wire-server' });
  const counters: Record<string, number> = {
    connections: 0,
    sessions: 0,
    rejectedChains: 0,
    refusedConnections: 0,
    refusedPerAddress: 0,
    refusedSessions: 0,
    headersTimeouts: 0,
    idleTimeouts: 0,
    requestTimeouts: 0,
  };
  const bump = (k: string): void => void (counters[k] = (counters[k] ?? 0) + 1);
  const tlsOptions = (): SecureServerOptions => {
    return {
      ...credentialOptions(deps.credentials.current()),
      requestCert: true,
      rejectUnauthorized: false, // we validate the client chain ourselves, below
      // No resumption: every session shows its full client chain.
      secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    };
  };
  const server = createSecureServer({
    ...tlsOptions(),
    allowHTTP1: false,
    handshakeTimeout: o.handshakeTimeoutMs,
    unknownProtocolTimeout: o.handshakeTimeoutMs,
    maxSessionMemory: o.maxSessionMemory,
    maxHeaderListPairs: 64,
    peerMaxConcurrentStreams: o.maxConcurrentStreams,
    settings: { maxConcurrentStreams: o.maxConcurrentStreams, maxHeaderListSize: o.maxHeaderListSize },
  });
  server.maxConnections = o.maxConnections;
  server.on('drop', () => bump('refusedConnections'));
  const perAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const addr = socket.remoteAddress ?? '';
    const n = (perAddress.get(addr) ?? 0) + 1;
    if (n > o.maxConnectionsPerAddress) {
      bump('refusedPerAddress');
      socket.destroy();
      return;
    }
    perAddress.set(addr, n);
    socket.setNoDelay(true); // small request/response frames: no Nagle delay between them
    socket.once('close', () => {
      const left = (perAddress.get(addr) ?? 1) - 1;
      if (left > 0) perAddress.set(addr, left);
      else perAddress.delete(addr);
    });
  });
  server.on('secureConnection', () => bump('connections'));
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));

  const peers = new WeakMap<Http2Session, PeerAuth>();
  const live = new Set<Http2Session>();
  const perPeer = new Map<string, Set<Http2Session>>();
  const warned = new Set<string>();

  server.on('session', (session: Http2Session) => {
    const socket = session.socket as unknown as TLSSocket;
    let peerId: string;
    try {
      peerId = verifyChainDer(peerChainFromSocket(socket), {
        now: deps.clock.now(),
        anchors: 'any-self-signed',
        purpose: 'tls-client',
        clockSynchronised: deps.clockSynchronised?.() ?? true,
      }).rootPeerId;
    } catch (e) {
      const code = isPeerhubError(e) ? e.code : 'PH_ERR_CHAIN_PARSE';
      bump('rejectedChains');
      bump(`rejected:${code}`);
      const key = `${socket.remoteAddress}|${code}`;
      if (warned.size < 1024 && !warned.has(key)) {
        warned.add(key);
        log.warn({ remote: socket.remoteAddress, code, err: (e as Error).message }, 'client chain rejected');
      }
      session.destroy();
      return;
    }
    const mine = perPeer.get(peerId) ?? new Set<Http2Session>();
    if (mine.size >= o.maxSessionsPerPeer) {
      bump('refusedSessions');
      session.destroy();
      return;
    }
    perPeer.set(peerId, mine.add(session));
    peers.set(session, { peerId });
    live.add(session);
    bump('sessions');
    log.debug({ peer: shortId(peerId), remote: socket.remoteAddress }, 'peer session');
    const headers = deps.clock.setTimer(o.headersTimeoutMs, () => {
      bump('headersTimeouts');
      session.destroy();
    });
    session.once('stream', () => headers.cancel());
    session.setTimeout(o.idleTimeoutMs, () => {
      bump('idleTimeouts');
      session.destroy();
    });
    session.on('error', (err) => log.debug({ peer: shortId(peerId), err: err.message }, 'session error'));
    session.once('close', () => {
      headers.cancel();
      live.delete(session);
      mine.delete(session);
      if (mine.size === 0 && perPeer.get(peerId) === mine) perPeer.delete(peerId);
    });
  });

  // A request must finish sending its body in time (a stream that trickles bytes is cancelled).
  server.on('stream', (stream) => {
    if (stream.endAfterHeaders) return;
    const t = deps.clock.setTimer(o.requestTimeoutMs, () => {
      bump('requestTimeouts');
      if (!stream.destroyed) stream.close(h2.NGHTTP2_CANCEL);
    });
    stream.once('end', () => t.cancel());
    stream.once('close', () => t.cancel());
  });

  const identify = (raw: IncomingMessage | Http2ServerRequest): PeerAuth | undefined => {
    const session = (raw as Http2ServerRequest).stream?.session;
    return session ? peers.get(session) : undefined;
  };
  const app = buildPeerApi(deps, init, { identify, server });
  const offRotate = deps.credentials.onRotate?.(() => {
    server.setSecureContext(tlsOptions());
    log.info({}, 'TLS certificate rotated');
  });

  await app.listen({ host: init.host ?? '0.0.0.0', port: init.port ?? DEFAULT_PEER_PORT });
  const port = (server.address() as AddressInfo).port;
  log.info({ port }, 'peer API listening');

  return {
    app,
    server,
    port,
    counters: () => ({ ...counters, liveSessions: live.size }),
    dropPeer(peerId) {
      for (const s of perPeer.get(peerId) ?? []) s.destroy();
    },
    async stop() {
      // GOAWAY first; event streams never end on their own, so destroy what is left shortly after.
      for (const s of live) s.close();
      const t = setTimeout(() => {
        for (const s of live) s.destroy();
      }, 500);
      if (typeof offRotate === 'function') offRotate();
      try {
        await app.close();
      } finally {
        clearTimeout(t);
      }
    },
  };
}
