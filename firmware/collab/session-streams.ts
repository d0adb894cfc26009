/**
 * Host side of session delivery: each registered member keeps one NDJSON stream open on the host's peer
 * API (`GET /v1/sessions/:id/stream`), and the host pushes messages and roster notices down it. This is
 * the SessionTransport the session host uses: a member without an attached stream is unreachable (it
 * catches up from the backlog when it attaches again). Members reach the host, never the reverse, so a
 * member behind NAT or with a stale endpoint still gets everything.
 */
import { PeerhubError } from '../core/errors.js';
import type { SessionMessage, SessionNotice, SessionTransport } from './sessions-types.js';

/** One line of a member's stream. */
export type StreamLine =
  | { type: 'hello'; sessionId: string; seq: number; members: Array<{ peerId: string; nickname?: string }> }
  | { type: 'message'; message: SessionMessage }
  | { type: 'notice'; notice: SessionNotice };

/** Where lines go (an HTTP/2 response in the peer API; an array in tests). */
export interface StreamSink {
  write(line: string): void;
  end(): void;
  readonly closed: boolean;
}

export class MemberStreams implements SessionTransport {
  private readonly sinks = new Map<string, Map<string, StreamSink>>();

  /** Attach `peerId`'s stream for a session (an older one is ended); returns the detach function. */
  attach(sessionId: string, peerId: string, sink: StreamSink): () => void {
    let per = this.sinks.get(sessionId);
    if (!per) this.sinks.set(sessionId, (per = new Map()));
    const old = per.get(peerId);
    per.set(peerId, sink);
    if (old && old !== sink && !old.closed) old.end();
    return () => {
      const now = this.sinks.get(sessionId);
      if (now?.get(peerId) !== sink) return;
      now.delete(peerId);
      if (now.size === 0) this.sinks.delete(sessionId);
    };
  }

  connected(sessionId: string, peerId: string): boolean {
    const s = this.sinks.get(sessionId)?.get(peerId);
    return !!s && !s.closed;
  }

  /** Attached streams right now (all sessions). */
  get size(): number {
    let n = 0;
    for (const per of this.sinks.values()) n += per.size;
    return n;
  }

  private sink(sessionId: string, peerId: string): StreamSink {
    const s = this.sinks.get(sessionId)?.get(peerId);
    if (!s || s.closed) {
      throw new PeerhubError('PH_ERR_PEER_UNREACHABLE', 'member stream not attached', { statusCode: 502 });
    }
    return s;
  }

  async deliver(peerId: string, message: SessionMessage): Promise<void> {
    this.sink(message.sessionId, peerId).write(line({ type: 'message', message }));
  }

  async notify(peerId: string, notice: SessionNotice): Promise<void> {
    const s = this.sink(notice.sessionId, peerId);
    s.write(line({ type: 'notice', notice }));
    // The session is over for this member: nothing more will come down this stream.
    const gone = notice.type === 'ended' || (notice.type === 'member-left' && notice.peerId === peerId);
    if (gone) s.end();
  }

  /** End every stream of a session (ended) or of one member (removed). */
  close(sessionId: string, peerId?: string): void {
    const per = this.sinks.get(sessionId);
    if (!per) return;
    for (const [p, s] of [...per]) {
      if (peerId !== undefined && p !== peerId) continue;
      per.delete(p);
      if (!s.closed) s.end();
    }
    if (per.size === 0) this.sinks.delete(sessionId);
  }

  closeAll(): void {
    for (const id of [...this.sinks.keys()]) this.close(id);
  }
}

export function line(x: StreamLine): string {
  return JSON.stringify(x) + '\n';
}
