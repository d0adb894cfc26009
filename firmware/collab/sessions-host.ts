/**
 * The host side of sessions: a shell around the pure machine (sessions-machine.ts). It issues
 * membership certificates, keeps rosters in `<dataDir>/sessions.json`, relays messages through the
 * injected transport without letting one slow or dead member hold up the others, and emits events only
 * after the roster write landed. Mutations of one session are serialized; delivery outcomes are not.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { shortId } from '../identity/index.js';
import type { Emitter } from '../presence/types.js';
import { openStore, type Store, type StoreFs } from '../store/index.js';
import { issueMembership, verifyMembership, type HostCa } from './sessions-certs.js';
import {
  missedSince,
  newSession,
  SESSION_DEFAULTS,
  stepSession,
  type HostedSession,
  type SessionConfig,
  type SessionEffect,
  type SessionInput,
  type SessionStepError,
} from './sessions-machine.js';
import { fromStored, SEQ_BLOCK, SESSIONS_VERSION, toStored, validateSessions } from './sessions-store.js';
import type { SessionsRecord } from './sessions-store.js';
import type {
  Registration,
  SessionEvents,
  SessionHost,
  SessionMember,
  SessionMessage,
  SessionSnapshot,
  SessionTransport,
  SessionView,
} from './sessions-types.js';

export const MAX_OPEN_SESSIONS = 64;
/** Ended sessions kept in the store (oldest dropped first). */
export const KEEP_ENDED_SESSIONS = 32;

export interface SessionHostDeps {
  logger: Logger;
  clock: Clock;
  bus: Emitter<SessionEvents>;
  transport: SessionTransport;
  /** This hub's identity: the CA of its sessions. */
  identity: HostCa;
  /** True when `peerId` accepted an invitation to `sessionId` (the invitations service decides). */
  mayRegister(sessionId: string, peerId: string): boolean | Promise<boolean>;
  fs?: StoreFs;
  /** Session ids; default 128 random bits in hex. */
  randomId?: () => string;
}

export interface SessionHostInit {
  /** `<dataDir>/sessions.json` */
  file: string;
  backlog?: { maxMessages?: number; maxBytes?: number };
  maxMembers?: number;
  /** Validity of membership certificates (default: the identity profile's, one day). */
  memberCertValidityMs?: number;
}

function toError(e: SessionStepError): PeerhubError {
  return new PeerhubError(e.code, e.message, { statusCode: e.statusCode });
}

function view(s: HostedSession): SessionView {
  return {
    id: s.id,
    hostPeerId: s.hostPeerId,
    ...(s.appId === undefined ? {} : { appId: s.appId }),
    createdAt: s.createdAt,
    state: s.state,
    seq: s.seq,
    members: [...s.members.values()].map((m) => ({ ...m })),
  };
}

export class DefaultSessionHost implements SessionHost {
  private store: Store<SessionsRecord> | null = null;
  private readonly sessions = new Map<string, HostedSession>();
  private readonly reserved = new Map<string, number>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly cfg: SessionConfig;
  private readonly log: Logger;

  constructor(
    private readonly deps: SessionHostDeps,
    private readonly init: SessionHostInit,
  ) {
    this.log = deps.logger.child({ component: 'sessions' });
    this.cfg = {
      maxMessages: init.backlog?.maxMessages ?? SESSION_DEFAULTS.maxMessages,
      maxBytes: init.backlog?.maxBytes ?? SESSION_DEFAULTS.maxBytes,
      maxMembers: init.maxMembers ?? SESSION_DEFAULTS.maxMembers,
    };
  }

  async start(): Promise<void> {
    if (this.store) return;
    this.store = await openStore<SessionsRecord>(
      {
        file: this.init.file,
        version: SESSIONS_VERSION,
        defaults: { version: SESSIONS_VERSION, sessions: [] },
        validate: validateSessions,
      },
      { logger: this.log, fs: this.deps.fs, now: () => this.deps.clock.now() },
    );
    for (const r of this.store.data.sessions) {
      this.sessions.set(r.id, fromStored(r));
      this.reserved.set(r.id, r.seqReserved);
    }
    this.log.info({ file: this.init.file, sessions: this.sessions.size }, 'sessions loaded');
  }

  async stop(): Promise<void> {
    await this.settled();
    await Promise.allSettled([...this.locks.values()]);
    const s = this.store;
    this.store = null;
    this.sessions.clear();
    this.reserved.clear();
    await s?.close();
  }

  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private get db(): Store<SessionsRecord> {
    if (!this.store) throw new PeerhubError('PH_ERR_INTERNAL', 'session host is not started');
    return this.store;
  }

  private session(id: unknown): HostedSession {
    const s = typeof id === 'string' ? this.sessions.get(id) : undefined;
    if (!s)
      throw new PeerhubError('PH_ERR_SESSION_NOT_FOUND', `no session ${String(id)}`, { statusCode: 404 });
    return s;
  }

  /** Run `fn` after every earlier mutation of this session. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => this.locks.get(id) === tail && this.locks.delete(id));
    return run;
  }

  private async save(s: HostedSession, seqReserved = this.reserved.get(s.id) ?? SEQ_BLOCK): Promise<void> {
    const rec = toStored(s, seqReserved);
    await this.db.update((d) => {
      const i = d.sessions.findIndex((x) => x.id === s.id);
      if (i >= 0) d.sessions[i] = rec;
      else d.sessions.push(rec);
      const ended = d.sessions.filter((x) => x.state === 'ended');
      const drop = new Set(ended.slice(0, Math.max(0, ended.length - KEEP_ENDED_SESSIONS)).map((x) => x.id));
      if (drop.size > 0) d.sessions = d.sessions.filter((x) => !drop.has(x.id));
    });
    this.reserved.set(s.id, seqReserved);
    for (const id of [...this.sessions.keys()]) {
      if (!this.db.data.sessions.some((x) => x.id === id)) this.sessions.delete(id);
    }
  }

  /**
   * Step the machine; on `persist`, write first, then re-apply the input to the state as it is now
   * (delivery outcomes may have landed meanwhile; they never touch the roster, so the outcome is the same).
   */
  private async apply(id: string, input: SessionInput): Promise<SessionMessage | undefined> {
    const first = stepSession(this.session(id), input, this.deps.clock.now(), this.cfg);
    if (first.error) throw toError(first.error);
    let step = first;
    if (first.effects.some((e) => e.type === 'persist')) {
      await this.save(first.state);
      step = stepSession(this.session(id), input, this.deps.clock.now(), this.cfg);
      if (step.error) throw toError(step.error);
    }
    this.sessions.set(id, step.state);
    this.run(id, step.effects);
    return step.message;
  }

  /** Outcomes of deliveries: synchronous, never persisted. */
  private feedback(id: string, input: SessionInput): void {
    const s = this.sessions.get(id);
    if (!s) return;
    const step = stepSession(s, input, this.deps.clock.now(), this.cfg);
    this.sessions.set(id, step.state);
    this.run(id, step.effects);
  }

  private track(id: string, peerId: string, p: Promise<void>, seq?: number): void {
    const done = p.then(
      () => this.feedback(id, { type: 'delivered', peerId, ...(seq === undefined ? {} : { seq }) }),
      (e: unknown) =>
        this.feedback(id, {
          type: 'undeliverable',
          peerId,
          reason: e instanceof Error ? e.message : String(e),
        }),
    );
    this.inflight.add(done);
    void done.finally(() => this.inflight.delete(done));
  }

  private run(id: string, effects: SessionEffect[]): void {
    const { transport, bus } = this.deps;
    for (const e of effects) {
      switch (e.type) {
        case 'persist':
          break;
        case 'emit':
          bus.emit(e.event, e.data as never);
          break;
        case 'deliver':
          this.track(
            id,
            e.peerId,
            Promise.resolve().then(() => transport.deliver(e.peerId, e.message)),
            e.message.seq,
          );
          break;
        case 'notify':
          this.track(
            id,
            e.peerId,
            Promise.resolve().then(() => transport.notify(e.peerId, e.notice)),
          );
          break;
        case 'disconnected':
          this.log.warn({ session: id, peer: shortId(e.peerId), reason: e.reason }, 'member unreachable');
          break;
      }
    }
  }

  async create(opts: { appId?: string } = {}): Promise<SessionView> {
    if (opts.appId !== undefined && (typeof opts.appId !== 'string' || opts.appId.length === 0)) {
      throw new PeerhubError('PH_ERR_BAD_REQUEST', 'appId must be a non-empty string', { statusCode: 400 });
    }
    const open = [...this.sessions.values()].filter((s) => s.state === 'open').length;
    if (open >= MAX_OPEN_SESSIONS) {
      throw new PeerhubError('PH_ERR_SESSION_FULL', `${MAX_OPEN_SESSIONS} sessions are open`, {
        statusCode: 409,
      });
    }
    const id = (this.deps.randomId ?? (() => randomBytes(16).toString('hex')))();
    const s = newSession({ id, hostPeerId: this.deps.identity.peerId, ...opts }, this.deps.clock.now());
    await this.save(s, SEQ_BLOCK);
    this.sessions.set(id, s);
    const data = {
      sessionId: id,
      hostPeerId: s.hostPeerId,
      ...(s.appId === undefined ? {} : { appId: s.appId }),
    };
    this.deps.bus.emit('session:created', data);
    this.log.info({ session: id, app: s.appId }, 'session created');
    return view(s);
  }

  async register(
    sessionId: string,
    peerId: string,
    publicKeyPem: string,
    nickname?: string,
  ): Promise<Registration> {
    const s = this.session(sessionId);
    if (s.state === 'ended') {
      throw new PeerhubError('PH_ERR_SESSION_ENDED', `session ${sessionId} has ended`, { statusCode: 409 });
    }
    if (nickname !== undefined && (typeof nickname !== 'string' || nickname.length > 64)) {
      throw new PeerhubError('PH_ERR_BAD_REQUEST', 'nickname must be a string of at most 64 characters', {
        statusCode: 400,
      });
    }
    return this.locked(sessionId, async () => {
      // Checked under the session's lock: a renewal checked before a removal and applied after it
      // would have put the removed member back.
      if (!(await this.deps.mayRegister(sessionId, peerId))) {
        throw new PeerhubError(
          'PH_ERR_SESSION_NOT_INVITED',
          `${shortId(peerId)} has no accepted invitation to session ${sessionId}`,
          { statusCode: 403 },
        );
      }
      const { certPem, chainPem } = issueMembership(this.deps.identity, {
        sessionId,
        peerId,
        publicKeyPem,
        now: this.deps.clock.now(),
        ...(this.init.memberCertValidityMs === undefined
          ? {}
          : { validityMs: this.init.memberCertValidityMs }),
      });
      await this.apply(sessionId, { type: 'register', peerId, certPem, ...(nickname ? { nickname } : {}) });
      const now = this.session(sessionId);
      this.log.info({ session: sessionId, peer: shortId(peerId) }, 'member registered');
      const members = [...now.members.values()].map((m) => ({
        peerId: m.peerId,
        ...(m.nickname === undefined ? {} : { nickname: m.nickname }),
      }));
      return { certPem, chainPem, seq: now.seq, members };
    });
  }

  async post(sessionId: string, from: string, text: string, ref?: string): Promise<SessionMessage> {
    this.session(sessionId);
    return this.locked(sessionId, async () => {
      const s = this.session(sessionId);
      const ceiling = this.reserved.get(sessionId) ?? 0;
      if (s.state === 'open' && s.seq + 1 > ceiling) await this.save(s, s.seq + SEQ_BLOCK);
      return (await this.apply(sessionId, { type: 'post', from, text, ref })) as SessionMessage;
    });
  }

  catchUp(sessionId: string, peerId: string, afterSeq: number): SessionMessage[] {
    const r = missedSince(this.session(sessionId), peerId, afterSeq);
    if ('error' in r) throw toError(r.error);
    const last = r.messages.at(-1)?.seq;
    this.feedback(sessionId, { type: 'delivered', peerId, ...(last === undefined ? {} : { seq: last }) });
    return r.messages.map((m) => ({ ...m }));
  }

  resync(sessionId: string, peerId: string): SessionSnapshot {
    const s = this.session(sessionId);
    const r = missedSince(s, peerId, s.floorSeq);
    if ('error' in r) throw toError(r.error);
    this.feedback(sessionId, { type: 'delivered', peerId, seq: s.seq });
    return { seq: s.seq, messages: r.messages.map((m) => ({ ...m })) };
  }

  async leave(sessionId: string, peerId: string): Promise<void> {
    this.session(sessionId);
    await this.locked(sessionId, () => this.apply(sessionId, { type: 'leave', peerId }));
    this.log.info({ session: sessionId, peer: shortId(peerId) }, 'member left');
  }

  async remove(sessionId: string, peerId: string): Promise<void> {
    this.session(sessionId);
    await this.locked(sessionId, () => this.apply(sessionId, { type: 'remove', peerId }));
    this.log.info({ session: sessionId, peer: shortId(peerId) }, 'member removed');
  }

  async end(sessionId: string): Promise<void> {
    this.session(sessionId);
    await this.locked(sessionId, () => this.apply(sessionId, { type: 'end' }));
    this.log.info({ session: sessionId }, 'session ended');
  }

  roster(sessionId: string): SessionMember[] {
    return view(this.session(sessionId)).members;
  }

  get(sessionId: string): SessionView & { messages: SessionMessage[] } {
    const s = this.session(sessionId);
    return { ...view(s), messages: s.backlog.map((m) => ({ ...m })) };
  }

  removedAt(sessionId: string, peerId: string): number | undefined {
    return this.session(sessionId).removed.get(peerId);
  }

  list(): SessionView[] {
    return [...this.sessions.values()].map(view);
  }

  authenticateMember(sessionId: string, chainPem: string[]): string {
    const s = this.session(sessionId);
    const v = verifyMembership(chainPem, { now: this.deps.clock.now(), hostPeerId: s.hostPeerId, sessionId });
    const m = s.members.get(v.leafPeerId);
    if (!m) {
      throw new PeerhubError(
        'PH_ERR_SESSION_NOT_MEMBER',
        `${shortId(v.leafPeerId)} is no longer a member of session ${sessionId}`,
        { statusCode: 403 },
      );
    }
    if (s.state === 'ended') {
      throw new PeerhubError('PH_ERR_SESSION_ENDED', `session ${sessionId} has ended`, { statusCode: 409 });
    }
    return v.leafPeerId;
  }
}

export function createSessionHost(deps: SessionHostDeps, init: SessionHostInit): SessionHost {
  return new DefaultSessionHost(deps, init);
}
