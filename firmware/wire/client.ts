/**
 * The peer API client: one verified HTTP/2 session per peer id, reused by every request and
 * subscription (Node's http2/tls directly; fastify is only the server).
 */
import { constants as h2, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import { ErrorCodes, PeerhubError, wrap, type ErrorCode } from '../core/errors.js';
import { parsePeerId } from '../identity/peerid.js';
import { CLIENT_DEFAULTS, PeerConnection, type ClientOptions } from './connection.js';
import type { PeerClientDeps, PeerTarget, Subscription } from './types.js';

export type PeerClientInit = Partial<ClientOptions>;

const remoteBodies = new WeakMap<object, unknown>();

/** Turn a peer's `{code, message, statusCode}` answer into a local error (known codes kept). */
export function remoteError(target: PeerTarget, what: string, status: number, body: unknown): PeerhubError {
  const b = (body ?? {}) as { code?: unknown; message?: unknown };
  const code =
    typeof b.code === 'string' && b.code in ErrorCodes ? (b.code as ErrorCode) : 'PH_ERR_PEER_RESPONSE';
  const msg = typeof b.message === 'string' ? b.message : `HTTP ${status}`;
  const err = new PeerhubError(code, `${what} at ${target.host}:${target.port}: ${msg}`, {
    statusCode: status,
  });
  remoteBodies.set(err, body);
  return err;
}

/** The JSON body a peer refused a request with (e.g. the state an invitation already has), if any. */
export function remoteBody(e: unknown): unknown {
  return typeof e === 'object' && e !== null ? remoteBodies.get(e) : undefined;
}

function parseJson(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
}

export class PeerClient {
  private readonly o: ClientOptions;
  private readonly conns = new Map<string, Promise<PeerConnection>>();

  constructor(
    private readonly deps: PeerClientDeps,
    init: PeerClientInit = {},
  ) {
    this.o = { ...CLIENT_DEFAULTS, ...init };
  }

  /** Live (or connecting) sessions, one per peer id. */
  get sessions(): number {
    return this.conns.size;
  }

  /** JSON request; resolves with the parsed 2xx body, rejects with a PeerhubError. */
  async request<T = unknown>(
    target: PeerTarget,
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: OutgoingHttpHeaders = {},
  ): Promise<T> {
    const t = this.normalise(target);
    const what = `${method} ${path}`;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: OutgoingHttpHeaders = {
      ...extraHeaders,
      ':method': method,
      ':path': path,
      accept: 'application/json',
    };
    if (payload)
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': payload.length });
    const { stream, status } = await this.open(t, headers, payload);
    const buf = await this.readAll(stream, what);
    const json = parseJson(buf);
    if (status < 200 || status >= 300) throw remoteError(t, what, status, json);
    if (json === undefined && buf.length > 0) {
      throw new PeerhubError('PH_ERR_PEER_RESPONSE', `${what}: response is not JSON`, { statusCode: 502 });
    }
    return json as T;
  }

  /**
   * Subscribe to an NDJSON event stream (e.g. `/v1/events?since=N`). Resolves once the peer accepted
   * (200); rejects with the peer's error (403 PH_ERR_FORBIDDEN when it does not allow us).
   */
  async subscribe(
    target: PeerTarget,
    path: string,
    onEvent: (ev: unknown) => void,
    extraHeaders: OutgoingHttpHeaders = {},
  ): Promise<Subscription> {
    const t = this.normalise(target);
    const { stream, status } = await this.open(t, {
      ...extraHeaders,
      ':method': 'GET',
      ':path': path,
      accept: 'application/x-ndjson',
    });
    if (status !== 200)
      throw remoteError(t, `GET ${path}`, status, parseJson(await this.readAll(stream, path)));
    let rest = '';
    let reason = 'ended';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      rest += chunk;
      if (rest.length > this.o.maxResponseBytes) {
        reason = 'event line too long';
        stream.close(h2.NGHTTP2_CANCEL);
        return;
      }
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (!line) continue; // heartbeat
        try {
          onEvent(JSON.parse(line));
        } catch (e) {
          this.deps.logger.warn({ host: t.host, err: (e as Error).message }, 'bad event line from peer');
        }
      }
    });
    const ended = new Promise<{ reason: string }>((resolve) => {
      stream.once('error', (e) => (reason = `error: ${e.message}`));
      stream.once('close', () => resolve({ reason }));
    });
    return {
      ended,
      close: () => {
        reason = 'closed';
        if (!stream.destroyed) stream.close(h2.NGHTTP2_CANCEL);
      },
    };
  }

  /** End every session (no `peer:unreachable` for these). */
  async close(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(
      all.map((p) =>
        p.then(
          (c) => c.close(),
          () => undefined,
        ),
      ),
    );
  }

  private normalise(target: PeerTarget): PeerTarget {
    return { ...target, peerId: parsePeerId(target.peerId) };
  }

  /** The one session to `target.peerId`, opened (and verified) when missing or dead. */
  private connection(target: PeerTarget): Promise<PeerConnection> {
    const existing = this.conns.get(target.peerId);
    if (existing) return existing;
    const p = PeerConnection.open(this.deps, target, this.o, (c) => {
      if (this.conns.get(c.target.peerId) === p) this.conns.delete(c.target.peerId);
    });
    this.conns.set(target.peerId, p);
    p.catch(() => {
      if (this.conns.get(target.peerId) === p) this.conns.delete(target.peerId);
    });
    return p;
  }

  /** Open a stream and wait for its response headers (within the request time-out). */
  private async open(
    target: PeerTarget,
    headers: OutgoingHttpHeaders,
    payload?: Buffer,
  ): Promise<{ stream: ClientHttp2Stream; status: number }> {
    let conn = await this.connection(target);
    if (!conn.usable) {
      this.conns.delete(target.peerId);
      conn = await this.connection(target);
    }
    const what = `${String(headers[':method'])} ${String(headers[':path'])}`;
    let stream: ClientHttp2Stream;
    try {
      stream = conn.session.request(headers, { endStream: payload === undefined });
    } catch (e) {
      throw wrap('PH_ERR_PEER_UNREACHABLE', what, e, 502);
    }
    conn.track(stream);
    if (payload) stream.end(payload);
    return new Promise((resolve, reject) => {
      const timer = this.deps.clock.setTimer(this.o.requestTimeoutMs, () => {
        stream.close(h2.NGHTTP2_CANCEL);
        reject(
          new PeerhubError('PH_ERR_PEER_TIMEOUT', `${what}: no answer in ${this.o.requestTimeoutMs} ms`),
        );
      });
      stream.once('response', (h) => {
        timer.cancel();
        resolve({ stream, status: Number(h[':status']) });
      });
      stream.once('error', (e) => {
        timer.cancel();
        reject(wrap('PH_ERR_PEER_UNREACHABLE', what, e, 502));
      });
      stream.once('close', () => {
        timer.cancel();
        reject(new PeerhubError('PH_ERR_PEER_UNREACHABLE', `${what}: stream closed before an answer`));
      });
    });
  }

  /** Read a response body (bounded, within the request time-out). */
  private readAll(stream: ClientHttp2Stream, what: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const timer = this.deps.clock.setTimer(this.o.requestTimeoutMs, () => {
        stream.close(h2.NGHTTP2_CANCEL);
        reject(
          new PeerhubError(
            'PH_ERR_PEER_TIMEOUT',
            `${what}: body not complete in ${this.o.requestTimeoutMs} ms`,
          ),
        );
      });
      stream.on('data', (d: Buffer) => {
        size += d.length;
        if (size > this.o.maxResponseBytes) {
          timer.cancel();
          stream.close(h2.NGHTTP2_CANCEL);
          reject(
            new PeerhubError(
              'PH_ERR_PEER_RESPONSE',
              `${what}: response larger than ${this.o.maxResponseBytes} bytes`,
            ),
          );
        } else chunks.push(d);
      });
      stream.once('end', () => {
        timer.cancel();
        resolve(Buffer.concat(chunks));
      });
      stream.once('error', (e) => {
        timer.cancel();
        reject(wrap('PH_ERR_PEER_UNREACHABLE', what, e, 502));
      });
    });
  }
}
