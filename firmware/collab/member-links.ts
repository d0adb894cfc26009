/**
 * Member side of session delivery: for each session this hub joined, one stream open on the host
 * (`GET /v1/sessions/:id/stream`). Lines go to the SessionMembership view; a stream that breaks (host
 * crashed: connection reset, or the peer client's keep-alive gave up within seconds) marks the host
 * lost and is attached again with back-off; the hello of a new stream brings what was missed.
 */
import { X509Certificate } from 'node:crypto';
import type { Clock, Timer } from '../core/clock.js';
import { isPeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { shortId } from '../identity/index.js';
import type { Subscription } from '../wire/types.js';
import type { CollabTransport } from './peer-transport.js';
import type { StreamLine } from './session-streams.js';
import type { SessionMembership } from './sessions-member.js';

export const LINK_RETRY = { minMs: 1000, maxMs: 30_000 };
/** A membership certificate is renewed (registering again) this long before it expires. */
export const RENEW_BEFORE_MS = 6 * 60 * 60_000;
const MAX_TIMER_MS = 24 * 60 * 60_000;
/** Refusals after which attaching again is pointless: the session is over for us. */
const OVER = ['PH_ERR_SESSION_ENDED', 'PH_ERR_SESSION_NOT_FOUND', 'PH_ERR_SESSION_NOT_MEMBER'] as const;

export interface MemberLinksDeps {
  logger: Logger;
  clock: Clock;
  membership: SessionMembership;
  transport: Pick<CollabTransport, 'attach'>;
}

interface Link {
  sub: Subscription | null;
  timer: Timer | null;
  renewal: Timer | null;
  backoff: number;
  /** The attached stream has said hello at least once since the last failure. */
  live: boolean;
}

export class MemberLinks {
  private readonly links = new Map<string, Link>();
  private readonly log: Logger;
  private stopped = false;

  constructor(
    private readonly deps: MemberLinksDeps,
    private readonly retry = LINK_RETRY,
  ) {
    this.log = deps.logger.child({ component: 'member-links' });
  }

  /** Keep the stream of a joined session attached (no-op when already followed). */
  follow(sessionId: string): void {
    if (this.stopped || this.links.has(sessionId)) return;
    const l: Link = { sub: null, timer: null, renewal: null, backoff: this.retry.minMs, live: false };
    this.links.set(sessionId, l);
    void this.connect(sessionId, l);
  }

  unfollow(sessionId: string): void {
    const l = this.links.get(sessionId);
    if (!l) return;
    this.links.delete(sessionId);
    l.timer?.cancel();
    l.renewal?.cancel();
    l.sub?.close();
  }

  /** The peer client lost this host (keep-alive): its sessions' hosts are lost now, not at the next read. */
  hostUnreachable(hostPeerId: string, reason: string): void {
    this.deps.membership.onHostLost(hostPeerId, reason);
  }

  get size(): number {
    return this.links.size;
  }

  stop(): void {
    this.stopped = true;
    for (const id of [...this.links.keys()]) this.unfollow(id);
  }

  private joinedState(sessionId: string): string | null {
    try {
      return this.deps.membership.get(sessionId).state;
    } catch {
      return null;
    }
  }

  private async connect(sessionId: string, l: Link): Promise<void> {
    const state = this.joinedState(sessionId);
    if (state === null || state === 'left' || state === 'ended') return this.unfollow(sessionId);
    const { membership } = this.deps;
    const host = membership.get(sessionId).hostPeerId;
    try {
      const sub = await this.deps.transport.attach(host, sessionId, (x) =>
        this.onLine(sessionId, host, l, x),
      );
      if (this.links.get(sessionId) !== l) return sub.close();
      l.sub = sub;
      const { reason } = await sub.ended;
      l.sub = null;
      if (this.links.get(sessionId) !== l) return;
      this.lost(sessionId, host, `stream ended: ${reason}`);
    } catch (e) {
      if (this.links.get(sessionId) !== l) return;
      if (OVER.some((c) => isPeerhubError(e, c))) {
        this.log.info({ session: sessionId, reason: (e as Error).message }, 'session over for this hub');
        if (isPeerhubError(e, 'PH_ERR_SESSION_NOT_MEMBER')) membership.onRemoved(sessionId);
        else membership.onEnded(sessionId);
        return this.unfollow(sessionId);
      }
      this.lost(sessionId, host, (e as Error).message);
    }
    this.schedule(sessionId, l);
  }

  private lost(sessionId: string, host: string, reason: string): void {
    const state = this.joinedState(sessionId);
    if (state === 'left' || state === 'ended' || state === null) return this.unfollow(sessionId);
    this.deps.membership.onHostLost(host, reason, sessionId);
  }

  private schedule(sessionId: string, l: Link): void {
    if (this.links.get(sessionId) !== l || this.stopped) return;
    if (l.live) l.backoff = this.retry.minMs;
    l.live = false;
    const wait = l.backoff;
    l.backoff = Math.min(l.backoff * 2, this.retry.maxMs);
    this.log.debug({ session: sessionId, inMs: wait }, 'member stream: attaching again');
    l.timer = this.deps.clock.setTimer(wait, () => {
      l.timer = null;
      void this.connect(sessionId, l);
    });
  }

  private onLine(sessionId: string, host: string, l: Link, x: unknown): void {
    const m = this.deps.membership;
    const ln = x as Partial<StreamLine> | null;
    if (!ln || typeof ln !== 'object') return;
    if (ln.type === 'hello' && typeof ln.seq === 'number') {
      l.live = true;
      this.scheduleRenewal(sessionId, l);
      void m.reattached(sessionId, ln.seq).catch((e: unknown) => this.warn(sessionId, e));
    } else if (ln.type === 'message') {
      void m.onDeliver(host, ln.message).catch((e: unknown) => this.warn(sessionId, e));
    } else if (ln.type === 'notice' && ln.notice && typeof ln.notice === 'object') {
      m.onNotice(host, ln.notice);
      const st = this.joinedState(sessionId);
      if (st === 'left' || st === 'ended') this.unfollow(sessionId);
    } else {
      this.log.warn({ session: sessionId, host: shortId(host) }, 'unknown line on member stream');
    }
  }

  /** Register again before the membership certificate expires (the host issues a fresh one). */
  private scheduleRenewal(sessionId: string, l: Link): void {
    l.renewal?.cancel();
    let expires: number;
    try {
      expires = Date.parse(new X509Certificate(this.deps.membership.get(sessionId).certPem).validTo);
    } catch {
      return;
    }
    // Never sooner than the longest back-off: a host whose clock lags would otherwise make us spin.
    const due = expires - RENEW_BEFORE_MS - this.deps.clock.now();
    const wait = Math.min(Math.max(this.retry.maxMs, due), MAX_TIMER_MS);
    l.renewal = this.deps.clock.setTimer(wait, () => {
      l.renewal = null;
      if (this.links.get(sessionId) !== l) return;
      const s = this.deps.membership.get(sessionId);
      if (s.state !== 'joined') return this.scheduleRenewal(sessionId, l);
      this.deps.membership.join(s.hostPeerId, sessionId).then(
        () => {
          this.log.info({ session: sessionId }, 'membership certificate renewed');
          this.scheduleRenewal(sessionId, l);
        },
        (e: unknown) => {
          this.warn(sessionId, e);
          l.renewal = this.deps.clock.setTimer(this.retry.maxMs, () => this.scheduleRenewal(sessionId, l));
        },
      );
    });
  }

  private warn(sessionId: string, e: unknown): void {
    this.log.warn({ session: sessionId, err: (e as Error).message }, 'member stream line not applied');
  }
}
