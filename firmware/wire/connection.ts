/**
 * One outbound HTTP/2 session to one peer: TLS 1.3 with our chain, the server's chain checked against
 * the peer id we expect (a mismatch is a spoof) before any request, PING keep-alives, idle close.
 */
import { connect as h2connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { Timer } from '../core/clock.js';
import { PeerhubError, isPeerhubError, wrap } from '../core/errors.js';
import { shortId } from '../identity/peerid.js';
import { credentialOptions, peerChainFromSocket, verifyChainDer } from './trust.js';
import type { PeerClientDeps, PeerTarget, TlsCredentials } from './types.js';

export const CLIENT_DEFAULTS = {
  keepAliveMs: 1000,
  deadAfterMs: 3000,
  connectTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
  /** A session without open streams is closed quietly after this. */
  idleCloseMs: 60_000,
  maxResponseBytes: 1024 * 1024,
};
export type ClientOptions = typeof CLIENT_DEFAULTS;

/**
 * Which peer a server's chain proves: throws PH_ERR_PEER_SPOOF (after emitting it; the error carries
 * `presented`, the id the chain proved) or PH_ERR_CHAIN_*.
 */
function checkServer(deps: PeerClientDeps, socket: TLSSocket, target: PeerTarget): void {
  const chain = peerChainFromSocket(socket);
  const base = { now: deps.clock.now(), clockSynchronised: deps.clockSynchronised?.() ?? true };
  try {
    verifyChainDer(chain, { ...base, anchors: [{ peerId: target.peerId }], purpose: 'tls-server' });
    return;
  } catch (e) {
    if (!isPeerhubError(e, 'PH_ERR_CHAIN_UNTRUSTED')) throw e;
  }
  // A valid chain to another root: someone claims an id that is not theirs.
  const presented = verifyChainDer(chain, {
    ...base,
    anchors: 'any-self-signed',
    purpose: 'tls-server',
  }).rootPeerId;
  const { host, port } = target;
  deps.events.emit('peer:spoof', { expected: target.peerId, presented, host, port });
  throw Object.assign(
    new PeerhubError(
      'PH_ERR_PEER_SPOOF',
      `${host}:${port} presented peer id ${presented}, expected ${target.peerId}`,
      { statusCode: 502 },
    ),
    { presented },
  );
}

/**
 * One client context per set of credentials (they change only when the certificate is renewed):
 * building it parses the private key and the chain, a cost every connection paid before (a hub
 * verifies each hub it finds, so on a LAN of 100 that was 99 key parses at start-up).
 */
const contexts = new WeakMap<TlsCredentials, SecureContext>();
function clientContext(creds: TlsCredentials): SecureContext {
  let ctx = contexts.get(creds);
  if (!ctx) {
    ctx = createSecureContext(credentialOptions(creds));
    contexts.set(creds, ctx);
  }
  return ctx;
}

/** TLS connect + server check; resolves with a verified socket (no HTTP/2 byte sent yet). */
function openVerifiedSocket(deps: PeerClientDeps, target: PeerTarget, o: ClientOptions): Promise<TLSSocket> {
  const secureContext = clientContext(deps.credentials());
  const where = `${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: target.host,
      port: target.port,
      secureContext, // TLS 1.3 only, our key and chain
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false, // the chain is checked against the expected peer id below
    });
    // Requests are small frames written a few at a time (HEADERS, then DATA): without this, Nagle's
    // algorithm holds the second write until the first is acknowledged.
    socket.setNoDelay(true);
    const timer = deps.clock.setTimer(o.connectTimeoutMs, () => {
      socket.destroy();
      reject(
        new PeerhubError(
          'PH_ERR_PEER_TIMEOUT',
          `connect to ${where}: no TLS session in ${o.connectTimeoutMs} ms`,
        ),
      );
    });
    const failed = (err: Error): void => {
      timer.cancel();
      reject(isPeerhubError(err) ? err : wrap('PH_ERR_PEER_UNREACHABLE', `connect to ${where}`, err, 502));
    };
    socket.once('error', failed);
    socket.once('secureConnect', () => {
      timer.cancel();
      socket.off('error', failed);
      try {
        if (socket.alpnProtocol !== 'h2') {
          throw new PeerhubError(
            'PH_ERR_PEER_RESPONSE',
            `${where} does not speak HTTP/2 (ALPN ${socket.alpnProtocol || 'none'})`,
          );
        }
        checkServer(deps, socket, target);
      } catch (e) {
        socket.destroy();
        reject(isPeerhubError(e) ? e : wrap('PH_ERR_PEER_RESPONSE', `check ${where}`, e, 502));
        return;
      }
      resolve(socket);
    });
  });
}

/**
 * One TLS handshake to exactly `target`, closed at once: resolves with the peer id the server proved
 * (its TLS 1.3 CertificateVerify signs this handshake with a key whose chain ends at that root) and
 * rejects PH_ERR_PEER_SPOOF / PH_ERR_CHAIN_* / unreachable / time-out otherwise. No HTTP/2 byte is
 * sent: People Near Me needs the proof, not a request (a card fetch after the handshake cost both
 * hubs ≈ 30 % more CPU per check, and a hub checks every hub it finds).
 */
export async function proveEndpoint(
  deps: PeerClientDeps,
  target: PeerTarget,
  connectTimeoutMs = CLIENT_DEFAULTS.connectTimeoutMs,
): Promise<{ peerId: string }> {
  const socket = await openVerifiedSocket(deps, target, { ...CLIENT_DEFAULTS, connectTimeoutMs });
  // close_notify + FIN; the server's session ends on it. Bounded if the server never closes its side.
  socket.setTimeout(1000, () => socket.destroy());
  socket.on('error', () => undefined); // a reset after the proof changes nothing
  socket.resume(); // drain what the server sends (session ticket, SETTINGS) so its FIN is read
  socket.end();
  return { peerId: target.peerId };
}

/** A live, verified session with keep-alives. `onGone` runs once when it ends for any reason. */
export class PeerConnection {
  readonly session: ClientHttp2Session;
  private lastAlive: number;
  private ping: Timer | undefined;
  private idle: Timer | undefined;
  private streams = 0;
  private closing = false;
  private gone = false;

  private constructor(
    private readonly deps: PeerClientDeps,
    readonly target: PeerTarget,
    private readonly o: ClientOptions,
    socket: TLSSocket,
    private readonly onGone: (c: PeerConnection) => void,
  ) {
    const host = target.host.includes(':') ? `[${target.host}]` : target.host;
    this.session = h2connect(`https://${host}:${target.port}`, { createConnection: () => socket });
    this.lastAlive = deps.clock.now();
    this.session.on('error', (err) => this.dead(`error: ${err.message}`));
    this.session.on('goaway', () => this.dead('goaway'));
    this.session.on('close', () => this.dead('closed'));
    this.schedulePing();
    this.armIdle();
  }

  static async open(
    deps: PeerClientDeps,
    target: PeerTarget,
    o: ClientOptions,
    onGone: (c: PeerConnection) => void,
  ): Promise<PeerConnection> {
    const socket = await openVerifiedSocket(deps, target, o);
    return new PeerConnection(deps, target, o, socket, onGone);
  }

  get usable(): boolean {
    return !this.gone && !this.session.closed && !this.session.destroyed;
  }

  /** Count an open stream (keeps the session from idling out). */
  track(stream: ClientHttp2Stream): void {
    this.streams++;
    this.idle?.cancel();
    stream.once('close', () => {
      this.streams--;
      this.armIdle();
    });
  }

  /** Close on our own initiative: no `peer:unreachable`. */
  async close(): Promise<void> {
    if (this.gone) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.session.once('close', () => resolve()));
    this.session.close();
    const force = this.deps.clock.setTimer(1000, () => this.session.destroy());
    await closed;
    force.cancel();
  }

  private schedulePing(): void {
    const left = this.lastAlive + this.o.deadAfterMs - this.deps.clock.now();
    const delay = Math.min(this.o.keepAliveMs, Math.max(1, left + 1));
    const dueAt = this.deps.clock.now() + delay;
    this.ping = this.deps.clock.setTimer(delay, () => {
      if (this.gone) return;
      // Time this process was not running is not the peer's silence: a starved process (a host
      // serving 50 members on 2 cores, a loaded Pi) runs this timer late, and before the socket input
      // that waited meanwhile — the answer may be sitting unread. The deadline moves by the delay.
      const now = this.deps.clock.now();
      if (now > dueAt) this.lastAlive += now - dueAt;
      if (now - this.lastAlive > this.o.deadAfterMs) {
        this.dead(`no PING answer for ${this.o.deadAfterMs} ms`);
        return;
      }
      try {
        this.session.ping((err) => {
          if (!err) this.lastAlive = this.deps.clock.now();
        });
      } catch {
        // Too many unanswered pings: the deadline above decides.
      }
      this.schedulePing();
    });
  }

  private armIdle(): void {
    if (this.streams > 0 || this.gone) return;
    this.idle?.cancel();
    this.idle = this.deps.clock.setTimer(this.o.idleCloseMs, () => {
      if (this.streams === 0) void this.close();
    });
  }

  private dead(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.ping?.cancel();
    this.idle?.cancel();
    if (!this.session.destroyed) this.session.destroy();
    const { peerId, host, port } = this.target;
    if (!this.closing) {
      this.deps.logger.info({ peer: shortId(peerId), host, port, reason }, 'peer session lost');
      this.deps.events.emit('peer:unreachable', { peerId, host, port, reason });
    }
    this.onGone(this);
  }
}
