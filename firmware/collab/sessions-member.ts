/**
 * The member side of sessions: the sessions this hub joined, each an ordered view of the host's
 * stream. Messages are applied strictly in seq order: a duplicate is ignored, a message ahead of the
 * next expected one is held and the gap is fetched from the host (`catchUp`), and when the host's
 * backlog no longer has it the view resyncs and says what was lost. Not persisted (yet): a restart of
 * this hub forgets its joined sessions.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { isPeerhubError, PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { shortId } from '../identity/index.js';
import type { Emitter } from '../presence/types.js';
import type { JoinedRecord } from './joined-store.js';
import type {
  JoinedState,
  SessionClient,
  SessionEvents,
  SessionMessage,
  SessionNotice,
} from './sessions-types.js';

export const MEMBER_MAX_MESSAGES = 1000;
/** Messages held while a gap before them is being fetched. */
export const MEMBER_MAX_AHEAD = 1000;

export interface JoinedSession {
  id: string;
  hostPeerId: string;
  certPem: string;
  chainPem: string[];
  lastSeq: number;
  messages: SessionMessage[];
  members: Array<{ peerId: string; nickname?: string }>;
  state: JoinedState;
}

/** Pure ordering step: apply what is next in line, hold what is ahead, report a gap. */
export function order(
  lastSeq: number,
  ahead: ReadonlyMap<number, SessionMessage>,
  incoming: SessionMessage[],
  maxAhead = MEMBER_MAX_AHEAD,
): { lastSeq: number; ready: SessionMessage[]; ahead: Map<number, SessionMessage>; gap: boolean } {
  const held = new Map(ahead);
  for (const m of incoming) if (m.seq > lastSeq && !held.has(m.seq)) held.set(m.seq, m);
  const ready: SessionMessage[] = [];
  let next = held.get(lastSeq + 1);
  while (next) {
    held.delete(next.seq);
    ready.push(next);
    lastSeq = next.seq;
    next = held.get(lastSeq + 1);
  }
  for (const seq of held.keys()) if (seq <= lastSeq) held.delete(seq);
  if (held.size > maxAhead) {
    const keep = [...held.keys()].sort((a, b) => a - b).slice(0, maxAhead);
    for (const seq of [...held.keys()]) if (!keep.includes(seq)) held.delete(seq);
  }
  return { lastSeq, ready, ahead: held, gap: held.size > 0 };
}

export interface SessionMembershipDeps {
  logger: Logger;
  clock: Clock;
  bus: Emitter<SessionEvents>;
  client: SessionClient;
  /** This hub's peer id and root public key (the key the host certifies). */
  peerId: string;
  publicKeyPem: string;
  /** Durable copy of a joined session (joined.json); errors are logged, the view goes on. */
  persist?(r: JoinedRecord): Promise<void>;
}

export interface SessionMembershipInit {
  maxMessages?: number;
}

/** Waits before a post is sent again after its answer was lost, and the time all tries must fit in. */
export const POST_RETRY_DELAYS_MS = [250, 1000];
export const POST_RETRY_WITHIN_MS = 20_000;

interface Live extends JoinedSession {
  ahead: Map<number, SessionMessage>;
  catching: Promise<void> | null;
}

function isMessage(m: unknown): m is SessionMessage {
  const x = m as Partial<SessionMessage> | null;
  return (
    !!x &&
    typeof x.sessionId === 'string' &&
    typeof x.seq === 'number' &&
    Number.isSafeInteger(x.seq) &&
    x.seq > 0 &&
    typeof x.from === 'string' &&
    typeof x.text === 'string' &&
    typeof x.at === 'number'
  );
}

export class SessionMembership {
  private readonly joined = new Map<string, Live>();
  private readonly log: Logger;
  private readonly maxMessages: number;

  constructor(
    private readonly deps: SessionMembershipDeps,
    init: SessionMembershipInit = {},
  ) {
    this.log = deps.logger.child({ component: 'session-member' });
    this.maxMessages = init.maxMessages ?? MEMBER_MAX_MESSAGES;
  }

  private live(id: string): Live {
    const s = this.joined.get(id);
    if (!s) throw new PeerhubError('PH_ERR_SESSION_NOT_FOUND', `not in session ${id}`, { statusCode: 404 });
    return s;
  }

  /** Register with the host (after accepting its invitation) and start the view at the host's seq. */
  async join(hostPeerId: string, sessionId: string, nickname?: string): Promise<JoinedSession> {
    const r = await this.deps.client.register(hostPeerId, sessionId, this.deps.publicKeyPem, nickname);
    const old = this.joined.get(sessionId);
    const s: Live = {
      id: sessionId,
      hostPeerId,
      certPem: r.certPem,
      chainPem: [...r.chainPem],
      lastSeq: old && old.state === 'joined' ? old.lastSeq : r.seq,
      messages: old?.messages ?? [],
      members: r.members,
      state: 'joined',
      ahead: new Map(),
      catching: null,
    };
    this.joined.set(sessionId, s);
    await this.save(s);
    this.log.info({ session: sessionId, host: shortId(hostPeerId) }, 'joined session');
    return this.get(sessionId);
  }

  /** Sessions joined before a restart: their view starts again from the seq last written. */
  restore(records: readonly JoinedRecord[]): string[] {
    for (const r of records) {
      if (this.joined.has(r.id)) continue;
      this.joined.set(r.id, { ...structuredClone(r), messages: [], ahead: new Map(), catching: null });
    }
    return records.filter((r) => r.state === 'joined').map((r) => r.id);
  }

  private async save(s: Live): Promise<void> {
    if (!this.deps.persist) return;
    const state = s.state === 'host-lost' ? 'joined' : s.state;
    const { id, hostPeerId, certPem, chainPem, lastSeq, members } = s;
    try {
      await this.deps.persist(
        structuredClone({ id, hostPeerId, certPem, chainPem, lastSeq, members, state }),
      );
    } catch (e) {
      this.log.error({ session: id, err: (e as Error).message }, 'joined session not saved');
    }
  }

  get(sessionId: string): JoinedSession {
    const { ahead: _a, catching: _c, ...s } = this.live(sessionId);
    return structuredClone(s);
  }

  list(): JoinedSession[] {
    return [...this.joined.keys()].map((id) => this.get(id));
  }

  /** A message pushed by `hostPeerId` (the authenticated sender). */
  async onDeliver(hostPeerId: string, msg: unknown): Promise<void> {
    if (!isMessage(msg)) {
      this.log.warn({ host: shortId(hostPeerId) }, 'malformed session message dropped');
      return;
    }
    const s = this.joined.get(msg.sessionId);
    if (!s || s.hostPeerId !== hostPeerId) {
      this.log.warn(
        { host: shortId(hostPeerId), session: msg.sessionId },
        'message for no session of this host',
      );
      return;
    }
    if (s.state === 'left' || s.state === 'ended') return;
    if (s.state === 'host-lost') s.state = 'joined'; // it is back
    this.absorb(s, [msg]);
    if (s.ahead.size > 0) await this.catchUp(s);
  }

  private absorb(s: Live, incoming: SessionMessage[]): void {
    const r = order(s.lastSeq, s.ahead, incoming);
    s.lastSeq = r.lastSeq;
    s.ahead = r.ahead;
    for (const m of r.ready) {
      s.messages.push(m);
      this.deps.bus.emit('session:message', { ...m });
    }
    if (s.messages.length > this.maxMessages) s.messages.splice(0, s.messages.length - this.maxMessages);
  }

  /** Fetch what is missing after lastSeq; one fetch at a time per session. */
  catchUp(sessionOrId: Live | string): Promise<void> {
    const s = typeof sessionOrId === 'string' ? this.live(sessionOrId) : sessionOrId;
    if (s.catching) return s.catching;
    const run = async (): Promise<void> => {
      for (let round = 0; round < 8; round++) {
        const before = s.lastSeq;
        try {
          this.absorb(s, await this.deps.client.catchUp(s.hostPeerId, s.id, s.lastSeq));
        } catch (e) {
          if (!isPeerhubError(e, 'PH_ERR_SESSION_BACKLOG_GONE')) {
            this.log.warn({ session: s.id, err: (e as Error).message }, 'catch-up failed');
            return;
          }
          await this.resync(s);
        }
        if (s.ahead.size === 0 || s.lastSeq === before) return;
      }
    };
    s.catching = run().finally(() => (s.catching = null));
    return s.catching;
  }

  private async resync(s: Live): Promise<void> {
    const snap = await this.deps.client.resync(s.hostPeerId, s.id);
    const lostAfter = s.lastSeq;
    const first = snap.messages[0]?.seq ?? snap.seq + 1;
    s.lastSeq = Math.max(s.lastSeq, first - 1);
    this.deps.bus.emit('session:resynced', { sessionId: s.id, lostAfter, lostUntil: s.lastSeq });
    this.log.warn({ session: s.id, lostAfter, lostUntil: s.lastSeq }, 'messages lost: resynced');
    this.absorb(s, snap.messages);
  }

  async send(sessionId: string, text: string): Promise<SessionMessage> {
    const s = this.live(sessionId);
    if (s.state !== 'joined') {
      throw new PeerhubError('PH_ERR_SESSION_ENDED', `session ${sessionId} is ${s.state}`, {
        statusCode: 409,
      });
    }
    const msg = await this.postOnce(s, text);
    await this.onDeliver(s.hostPeerId, msg); // the echo: applied in order, the pushed copy is a duplicate
    return msg;
  }

  /**
   * A post whose answer is lost (connection reset, no answer in time) may have reached the host: it is
   * sent again with the same idempotency key, and the host answers with the message it already has
   * rather than sequencing a copy. At most POST_RETRY_DELAYS_MS.length more tries, within
   * POST_RETRY_WITHIN_MS, while the session is joined; the host's own refusals are final.
   */
  private async postOnce(s: Live, text: string): Promise<SessionMessage> {
    const ref = randomBytes(12).toString('base64url');
    const { clock } = this.deps;
    const started = clock.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.deps.client.post(s.hostPeerId, s.id, text, ref);
      } catch (e) {
        const delay = POST_RETRY_DELAYS_MS[attempt];
        const lost =
          isPeerhubError(e, 'PH_ERR_PEER_UNREACHABLE') || isPeerhubError(e, 'PH_ERR_PEER_TIMEOUT') ? e : null;
        if (!lost) throw e;
        if (
          delay === undefined ||
          s.state !== 'joined' ||
          clock.now() + delay - started > POST_RETRY_WITHIN_MS
        ) {
          if (attempt === 0) throw lost;
          // Whether the host got one of the tries is unknown here: say so, and that a copy is impossible.
          throw new PeerhubError(
            lost.code,
            `${lost.message} (sent ${attempt + 1} times; if the host got it, the session has it once)`,
            { statusCode: lost.statusCode, cause: lost },
          );
        }
        this.log.info(
          { session: s.id, attempt: attempt + 2, err: lost.message },
          'message not answered: sending it again (same ref, the host keeps one)',
        );
        await new Promise<void>((resolve) => clock.setTimer(delay, resolve));
      }
    }
  }

  /** A roster change pushed by `hostPeerId`. */
  onNotice(hostPeerId: string, n: SessionNotice): void {
    const s = this.joined.get(n.sessionId);
    if (!s || s.hostPeerId !== hostPeerId || s.state === 'left' || s.state === 'ended') return;
    const { bus } = this.deps;
    switch (n.type) {
      case 'member-joined': {
        const who = { peerId: n.peerId, ...(n.nickname === undefined ? {} : { nickname: n.nickname }) };
        s.members = [...s.members.filter((m) => m.peerId !== n.peerId), who];
        bus.emit('session:member-joined', { sessionId: s.id, ...who });
        return;
      }
      case 'member-left': {
        s.members = s.members.filter((m) => m.peerId !== n.peerId);
        if (n.peerId === this.deps.peerId) {
          s.state = 'left';
          void this.save(s);
        }
        bus.emit('session:member-left', { sessionId: s.id, peerId: n.peerId, reason: n.reason });
        return;
      }
      case 'ended':
        this.onEnded(s.id);
        return;
    }
  }

  /** The host no longer counts this hub as a member (removed while it was away). */
  onRemoved(sessionId: string): void {
    const s = this.joined.get(sessionId);
    if (!s) return;
    this.onNotice(s.hostPeerId, {
      type: 'member-left',
      sessionId,
      peerId: this.deps.peerId,
      reason: 'removed',
      at: this.deps.clock.now(),
    });
  }

  onEnded(sessionId: string): void {
    const s = this.joined.get(sessionId);
    if (!s || s.state === 'left' || s.state === 'ended') return;
    s.state = 'ended';
    void this.save(s);
    this.deps.bus.emit('session:ended', { sessionId });
  }

  /**
   * The host is lost: every session it hosts (the peer client's keep-alive failed), or only `sessionId`
   * (that session's stream ended or could not attach — the host may still serve its other sessions).
   */
  onHostLost(hostPeerId: string, reason = 'host unreachable', sessionId?: string): void {
    for (const s of this.joined.values()) {
      if (s.hostPeerId !== hostPeerId || s.state !== 'joined') continue;
      if (sessionId !== undefined && s.id !== sessionId) continue;
      s.state = 'host-lost';
      this.deps.bus.emit('session:host-lost', { sessionId: s.id, hostPeerId, reason });
      this.log.warn({ session: s.id, host: shortId(hostPeerId), reason }, 'session host lost');
    }
  }

  /**
   * The member stream is attached again (its hello says the host's seq): a lost host is back, and what
   * was sent meanwhile is fetched.
   */
  async reattached(sessionId: string, hostSeq: number): Promise<void> {
    const s = this.joined.get(sessionId);
    if (!s || s.state === 'left' || s.state === 'ended') return;
    if (s.state === 'host-lost') {
      s.state = 'joined';
      this.log.info({ session: s.id, host: shortId(s.hostPeerId) }, 'session host back');
    }
    if (hostSeq > s.lastSeq) await this.catchUp(s);
  }

  async leave(sessionId: string): Promise<void> {
    const s = this.live(sessionId);
    if (s.state === 'joined') await this.deps.client.leave(s.hostPeerId, sessionId);
    s.state = 'left';
    await this.save(s);
  }
}
