/**
 * Invitations service, the shell around the pure machine: records in memory = the store; effects run
 * as durable write, then events, sends (bounded retries, back-off) and expiry timers. Bodies from peers
 * are validated before anything is stored.
 */
import { afterIoP } from '../core/defer.js';
import type { Clock, Timer } from '../core/clock.js';
import { isPeerhubError, PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Emitter } from '../presence/types.js';
import type { Store, StoreFs } from '../store/index.js';
import {
  deadline,
  MACHINE_DEFAULTS,
  stepInvitation,
  type InvitationEvent,
  type InvitationStep,
} from './invitations-machine.js';
import { Sender } from './invitations-sender.js';
import { canonPeer, filterInvitations, owed, tallyOf, type Kind } from './invitations-views.js';
import { openInvitationsStore, prune, type InvitationsRecord } from './invitations-store.js';
import {
  FINAL_CODES,
  newInvitationId,
  ok,
  parseAnswerBody,
  parseCancelBody,
  parseInvitationBody,
  parseInviteOptions,
  refuse,
  refuseError,
} from './invitations-wire.js';
import type {
  Answer,
  AnswerReply,
  InboundResult,
  Invitation,
  InvitationBody,
  InvitationEvents,
  InvitationFilter,
  InvitationState,
  Invitations,
  InvitationTransport,
  InviteOptions,
  InvitePolicy,
  Tally,
} from './types.js';

export interface InvitationsDeps {
  clock: Clock;
  logger: Logger;
  bus: Emitter<InvitationEvents>;
  /** `<dataDir>/invitations.json` (opened on start, closed on stop), or an open store (left open). */
  store: string | Store<InvitationsRecord>;
  fs?: StoreFs;
  transport: InvitationTransport;
  policy: InvitePolicy;
}

export interface InvitationsInit {
  maxClosed?: number; // closed records kept (1000); the oldest are pruned
  maxPendingIn?: number; // pending received invitations at most (256); more are refused
  retry?: { minMs?: number; maxMs?: number; maxAttempts?: number }; // 1 s doubling to 30 s, 12 attempts
  answerGraceMs?: number; // an invitee keeps delivering its answer this long past expiry (30 s)
}

export const INVITATIONS_DEFAULTS = {
  maxClosed: 1000,
  maxPendingIn: 256,
  retry: { minMs: 1000, maxMs: 30_000, maxAttempts: 12 },
};

const STATES: unknown[] = ['accepted', 'declined', 'expired', 'cancelled', 'failed'];
/** The longest an expiry timer waits before looking at the wall clock again. */
export const EXPIRY_CHECK_MS = 30_000;
/** How often a failed write of invitations is tried again. */
export const SAVE_RETRY_MS = 5_000;
const short = (id: string): string => id.slice(0, 7);
const notFound = <T>(message: string): InboundResult<T> =>
  refuse({ code: 'PH_ERR_INVITATION_NOT_FOUND', message, statusCode: 404 });

class InvitationsService implements Invitations {
  private readonly log: Logger;
  private readonly records = new Map<string, Invitation>();
  private readonly timers = new Map<string, Timer>();
  private readonly sender: Sender<Kind>;
  private store: Store<InvitationsRecord> | null = null;
  private running = false;
  private readonly work = new Set<Promise<unknown>>();
  /** Records changed in memory whose write failed (disk full): saved with the next write that succeeds. */
  private readonly unsaved = new Set<string>();
  private saveRetry: Timer | null = null;
  /** Records waiting for the next write, and that write (see writeBatch). */
  private readonly toWrite = new Set<string>();
  private nextWrite: Promise<void> | null = null;
  /** Writes deferred to the end of the loop turn (deferWrite), awaited by stop(). */
  private readonly deferred = new Set<Promise<unknown>>();
  /** Called after every change of a record (delivered() waiting for a delivery to end). */
  private readonly watchers = new Set<() => void>();
  private readonly cfg: Required<Omit<InvitationsInit, 'retry'>> & {
    retry: typeof INVITATIONS_DEFAULTS.retry;
  };

  constructor(
    private readonly deps: InvitationsDeps,
    init: InvitationsInit = {},
  ) {
    this.log = deps.logger.child({ component: 'invitations' });
    this.cfg = {
      maxClosed: init.maxClosed ?? INVITATIONS_DEFAULTS.maxClosed,
      maxPendingIn: init.maxPendingIn ?? INVITATIONS_DEFAULTS.maxPendingIn,
      retry: { ...INVITATIONS_DEFAULTS.retry, ...init.retry },
      answerGraceMs: init.answerGraceMs ?? MACHINE_DEFAULTS.answerGraceMs,
    };
    this.sender = new Sender<Kind>(
      {
        clock: deps.clock,
        track: (p) => void this.track(p),
        attempt: (id, kind) => this.attempt(id, kind),
        done: (id, kind, reply) => {
          const state = (reply as AnswerReply | undefined)?.state;
          return this.apply(
            id,
            kind === 'answer' ? { type: 'verdict', state: state as InvitationState } : { type: 'delivered' },
          );
        },
        giveUp: (id, kind, reason) => {
          this.log.warn({ id, kind, reason }, 'delivery failed');
          return this.apply(id, { type: 'deliveryFailed', reason });
        },
        deadline: (id, kind) => {
          const r = this.running ? this.records.get(id) : undefined;
          return r ? r.expiresAt + (kind === 'answer' ? this.cfg.answerGraceMs : 0) : null;
        },
        isFinal: (e) => isPeerhubError(e) && FINAL_CODES.has(e.code),
        onRetry: (id, kind, reason, inMs) =>
          this.log.debug({ id, kind, reason, inMs }, 'delivery failed, will retry'),
        onError: (id, e) => this.log.error({ id, err: (e as Error).message }, 'delivery bookkeeping failed'),
      },
      this.cfg.retry,
    );
  }

  async start(): Promise<void> {
    if (this.running) return;
    const s = this.deps.store;
    const storeDeps = { logger: this.log, fs: this.deps.fs, now: () => this.deps.clock.now() };
    this.store = typeof s === 'string' ? await openInvitationsStore(s, storeDeps) : s;
    this.running = true;
    const store = this.store;
    for (const r of store.data.invitations) this.records.set(r.id, structuredClone(r));
    this.log.info({ file: store.file, records: this.records.size }, 'invitations loaded');
    // Restart: expire what ran out meanwhile, send again what was being sent, re-arm expiry timers.
    for (const r of [...this.records.values()]) {
      await this.apply(r.id, { type: 'tick' });
      const now = this.records.get(r.id);
      if (!now) continue;
      const [kind, at] = [owed(now), deadline(now, { answerGraceMs: this.cfg.answerGraceMs })];
      if (kind) this.sender.send(now.id, kind);
      if (at !== null) this.arm(now.id, at);
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers.values()) t.cancel();
    this.sender.cancelAll();
    this.timers.clear();
    this.saveRetry?.cancel();
    this.saveRetry = null;
    while (this.deferred.size > 0) await Promise.allSettled([...this.deferred]); // writes already decided
    if (this.unsaved.size > 0)
      this.log.error({ ids: [...this.unsaved] }, 'stopping with invitations that could not be saved');
    this.unsaved.clear();
    const store = this.store;
    this.store = null;
    this.records.clear();
    this.changed();
    if (typeof this.deps.store === 'string') await store?.close();
  }

  // ── owner actions ────────────────────────────────────────────────────────────────────────────────

  async invite(peers: string[], opts: InviteOptions): Promise<Invitation[]> {
    this.ensureRunning();
    const { peers: ids, ttlMs, ...fields } = parseInviteOptions(peers, opts);
    const out: Array<Promise<Invitation | null>> = [];
    const pending = this.list({ direction: 'out', state: 'pending', sessionId: fields.sessionId });
    for (const peer of ids) {
      const open = pending.find((r) => r.peer === peer);
      if (open) {
        out.push(Promise.resolve(open)); // already invited to this session: the same invitation
        continue;
      }
      // Created and sent at once; their writes are grouped (one write for the whole list).
      const id = newInvitationId();
      const made = this.apply(id, { type: 'create', id, peer, ttlMs, ...fields });
      out.push(made.then((step) => (step.state ? structuredClone(step.state) : null)));
      this.log.info({ id, peer: short(peer), sessionId: fields.sessionId }, 'invitation created');
    }
    return (await Promise.all(out)).filter((x): x is Invitation => x !== null);
  }

  async answer(id: string, answer: Answer): Promise<Invitation> {
    return this.act(id, { type: 'answer', answer });
  }

  async cancel(id: string): Promise<Invitation> {
    return this.act(id, { type: 'cancel' });
  }

  async cancelNoResponse(sessionId: string): Promise<Invitation[]> {
    this.ensureRunning();
    const open = this.list({ direction: 'out', sessionId, state: 'pending' });
    const done: Invitation[] = [];
    for (const r of open) {
      const step = await this.apply(r.id, { type: 'cancel' });
      if (step.state && step.state.state === 'cancelled') done.push(structuredClone(step.state));
    }
    return done;
  }

  list(filter: InvitationFilter = {}): Invitation[] {
    return filterInvitations(this.records.values(), filter);
  }

  get(id: string): Invitation {
    const r = this.records.get(id);
    if (!r) throw new PeerhubError('PH_ERR_INVITATION_NOT_FOUND', `no invitation ${id}`, { statusCode: 404 });
    return structuredClone(r);
  }

  tally(sessionId: string): Tally {
    return tallyOf(this.records.values(), sessionId);
  }

  // ── peer API handlers ─────────────────────────────────────────────────────────────────────────────

  onInvitation(fromPeerId: string, body: unknown): Promise<InboundResult<{ state: InvitationState }>> {
    const from = canonPeer(fromPeerId);
    return this.inbound(from, body, parseInvitationBody, async (b) => {
      const known = this.records.get(b.id);
      if (known) {
        const step = stepInvitation(known, { type: 'received', peer: from, body: b }, this.deps.clock.now());
        return step.refused ? refuse(step.refused) : ok({ state: known.state }); // a duplicate
      }
      const no = this.deps.policy.check(from);
      if (no) {
        this.log.info({ peer: short(from), code: no.code }, 'invitation refused by policy');
        return refuse({ ...no, statusCode: no.code === 'PH_ERR_RATE_LIMITED' ? 429 : 403 });
      }
      if (this.list({ direction: 'in', state: 'pending' }).length >= this.cfg.maxPendingIn) {
        return refuse({
          code: 'PH_ERR_RATE_LIMITED',
          message: 'too many pending invitations',
          statusCode: 429,
        });
      }
      try {
        await this.apply(b.id, { type: 'received', peer: from, body: b }, true);
      } catch (e) {
        // Not on disk: the host is refused (it tries again), and the owner, already shown it, is told
        // it is withdrawn — unless the owner answered it meanwhile (that answer is kept and saved).
        const shown = this.records.get(b.id);
        if (shown?.state === 'pending') {
          this.records.delete(b.id);
          this.changed();
          const reason = `not saved (${(e as Error).message}): the host will send it again`;
          this.deps.bus.emit('invitation:failed', { invitation: { ...shown, state: 'failed', reason } });
        }
        return refuseError(e);
      }
      this.log.info({ id: b.id, peer: short(from), sessionId: b.sessionId }, 'invitation received');
      return ok({ state: 'pending' });
    });
  }

  onAnswer(fromPeerId: string, body: unknown): Promise<InboundResult<AnswerReply>> {
    const from = canonPeer(fromPeerId);
    return this.inbound(from, body, parseAnswerBody, async (b) => {
      const r = this.records.get(b.id);
      if (!r || r.direction !== 'out' || r.peer !== from) return notFound(`no invitation ${b.id} for you`);
      const step = await this.apply(b.id, { type: 'answerReceived', answer: b.answer });
      return step.refused ? refuse(step.refused) : ok({ state: (step.state ?? r).state });
    });
  }

  onCancel(fromPeerId: string, body: unknown): Promise<InboundResult<{ state: InvitationState }>> {
    const from = canonPeer(fromPeerId);
    return this.inbound(from, body, parseCancelBody, async (b) => {
      const r = this.records.get(b.id);
      if (!r) return ok({ state: 'cancelled' }); // never arrived or long pruned: nothing to cancel
      if (r.direction !== 'in' || r.peer !== from) return notFound(`no invitation ${b.id} from you`);
      const step = await this.apply(b.id, { type: 'cancelReceived' });
      return ok({ state: (step.state ?? r).state });
    });
  }

  /** Running? Body well-formed? Then handle it; refusals never touch the store. */
  private async inbound<B, T>(
    from: string,
    body: unknown,
    parse: (x: unknown) => B,
    handle: (b: B) => Promise<InboundResult<T>>,
  ): Promise<InboundResult<T>> {
    if (!this.running) return refuse({ code: 'PH_ERR_INTERNAL', message: 'not running', statusCode: 503 });
    let b: B;
    try {
      b = parse(body);
    } catch (e) {
      this.log.warn({ peer: short(from), reason: (e as Error).message }, 'malformed body refused');
      return refuseError(e);
    }
    return handle(b);
  }

  // ── machinery ─────────────────────────────────────────────────────────────────────────────────────

  private ensureRunning(): void {
    if (!this.running) throw new PeerhubError('PH_ERR_INTERNAL', 'invitations service is not running');
  }

  private async act(id: string, ev: InvitationEvent): Promise<Invitation> {
    this.ensureRunning();
    this.get(id);
    const step = await this.apply(id, ev);
    if (step.refused) throw new PeerhubError(step.refused.code, step.refused.message, step.refused);
    // What the owner's action made of it (a verdict from the other hub may already have followed).
    return step.state ? structuredClone(step.state) : this.get(id);
  }

  delivered(ids: string[], ms: number): Promise<void> {
    const sending = (): boolean => ids.some((id) => this.records.get(id)?.delivery === 'sending');
    if (!sending()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.watchers.delete(check);
        timer.cancel();
        resolve();
      };
      const check = (): void => {
        if (!sending()) done();
      };
      const timer = this.deps.clock.setTimer(ms, done);
      this.watchers.add(check);
    });
  }

  private changed(): void {
    for (const w of [...this.watchers]) w();
  }

  /** Resolves when nothing is being written, sent or answered (tests; an orderly shutdown). */
  async idle(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  private track<T>(p: Promise<T>, into: Set<Promise<unknown>> = this.work): Promise<T> {
    into.add(p);
    const done = (): void => void into.delete(p);
    p.then(done, done);
    return p;
  }

  private apply(id: string, ev: InvitationEvent, strict = false): Promise<InvitationStep> {
    return this.track(this.run(id, ev, strict));
  }

  /** Run one event: memory first (so concurrent events see it), then the durable write, then the rest. */
  private async run(id: string, ev: InvitationEvent, strict: boolean): Promise<InvitationStep> {
    const before = this.records.get(id) ?? null;
    const step = stepInvitation(before, ev, this.deps.clock.now(), { answerGraceMs: this.cfg.answerGraceMs });
    const rec = step.state;
    if (!this.running || !rec || rec === before) return step;
    this.records.set(id, rec);
    this.changed();
    // What a peer is told we hold (strict: an invitation we acknowledge) is on disk before the peer is
    // answered; the owner is told at once (if the write fails, the invitation is withdrawn: see
    // onInvitation). Otherwise memory is the truth and the write runs alongside the events and sends, as
    // local presence is announced before its fsync: the owner and the other hub learn it a write sooner.
    const persists = step.effects.some((fx) => fx.type === 'persist');
    const emit = (event: keyof InvitationEvents): void =>
      void this.deps.bus.emit(event, { invitation: structuredClone(this.records.get(id) ?? rec) });
    const early = persists && strict;
    if (early) {
      for (const fx of step.effects) if (fx.type === 'emit') emit(fx.event);
      await afterIoP(); // the owner's event stream line leaves before the write's serialisation
      await this.persist(id);
      // The owner may have answered meanwhile: that step ran its own effects (sends, timers).
      if (this.records.get(id) !== rec) return step;
    }
    // The write starts after the sends and events of this step have gone out (its serialisation
    // would otherwise run before them).
    const write =
      persists && !strict
        ? this.deferWrite(id).catch((e: unknown) => {
            // Kept in memory (it may already be on its way to the peer); saved with the next write
            // that succeeds, or by the retry (the disk was full: saved once space is back).
            this.unsaved.add(id);
            this.retrySave();
            this.log.error({ id, err: (e as Error).message }, 'invitation not saved: will retry');
          })
        : null;
    for (const fx of step.effects) {
      if (fx.type === 'persist') {
        continue;
      } else if (fx.type === 'emit') {
        if (!early) emit(fx.event);
      } else if (fx.type === 'schedule') {
        this.arm(id, fx.at);
      } else {
        this.sender.send(
          id,
          fx.type === 'send-invitation' ? 'invitation' : fx.type === 'send-answer' ? 'answer' : 'cancel',
        );
      }
    }
    if (deadline(rec, { answerGraceMs: this.cfg.answerGraceMs }) === null) {
      this.timers.get(id)?.cancel();
      this.timers.delete(id);
    }
    if (rec.delivery !== 'sending') this.sender.cancel(id);
    await write;
    return step;
  }

  /** persist(id) once this turn's sends and events are out; stop() waits for it. */
  private deferWrite(id: string): Promise<void> {
    return this.track(
      afterIoP().then(() => this.persist(id)),
      this.deferred,
    );
  }

  /** Write record `id` and every record an earlier write failed to save. */
  private persist(id: string): Promise<void> {
    const store = this.store;
    if (!store) return Promise.resolve();
    this.toWrite.add(id);
    this.nextWrite ??= this.writeBatch(store);
    return this.nextWrite;
  }

  /**
   * One store update for every record changed until it starts (group commit: a burst of changes, an
   * invitation to fifty members, is one write, not fifty), plus the records an earlier write failed to
   * save. Whoever asked for any of them waits for this write.
   */
  private writeBatch(store: Store<InvitationsRecord>): Promise<void> {
    let ids: string[] = [];
    let dropped: string[] = [];
    const p: Promise<void> = store
      .update((d) => {
        if (this.nextWrite === p) this.nextWrite = null; // changes from now on go into the next write
        ids = [...new Set([...this.toWrite, ...this.unsaved])];
        this.toWrite.clear();
        for (const x of ids) {
          const cur = this.records.get(x);
          const i = d.invitations.findIndex((r) => r.id === x);
          if (cur && i >= 0) d.invitations[i] = cur;
          else if (cur) d.invitations.push(cur);
        }
        dropped = prune(d.invitations, this.cfg.maxClosed);
        if (dropped.length > 0) d.invitations = d.invitations.filter((r) => !dropped.includes(r.id));
      })
      .then(
        () => {
          for (const x of ids) this.unsaved.delete(x);
          for (const x of dropped) this.records.delete(x);
          if (dropped.length > 0) this.changed();
        },
        (e: unknown) => {
          if (this.nextWrite === p) this.nextWrite = null; // refused before it started (store closed)
          throw e;
        },
      );
    return p;
  }

  /** Try again to save what a failed write left in memory only, every SAVE_RETRY_MS while it fails. */
  private retrySave(): void {
    if (this.saveRetry || !this.running) return;
    this.saveRetry = this.deps.clock.setTimer(SAVE_RETRY_MS, () => {
      this.saveRetry = null;
      const [first] = this.unsaved;
      if (first === undefined || !this.running) return;
      void this.track(this.persist(first)).then(
        () => this.log.info({ id: first }, 'unsaved invitations saved'),
        () => this.retrySave(),
      );
    });
  }

  /**
   * Look at the record at `at` (wall clock). The wait is at most EXPIRY_CHECK_MS and the deadline is
   * checked again when the timer fires: a timer firing a millisecond early, or a wall clock set back
   * (NTP stepping the time), must not leave an invitation pending past its expiry.
   */
  private arm(id: string, at: number): void {
    this.timers.get(id)?.cancel();
    const wait = Math.min(Math.max(0, at - this.deps.clock.now()), EXPIRY_CHECK_MS);
    const t = this.deps.clock.setTimer(wait, () => {
      this.timers.delete(id);
      const r = this.running ? this.records.get(id) : undefined;
      const next = r ? deadline(r, { answerGraceMs: this.cfg.answerGraceMs }) : null;
      if (next !== null && this.deps.clock.now() < next) return this.arm(id, next); // not yet: look again
      void this.apply(id, { type: 'tick' });
    });
    this.timers.set(id, t);
  }

  private async attempt(id: string, kind: Kind): Promise<AnswerReply | void> {
    const r = this.records.get(id);
    if (!r || !this.running) throw new Error('stopped');
    const t = this.deps.transport;
    if (kind === 'cancel') return t.sendCancel(r.peer, { id: r.id });
    if (kind === 'answer') {
      if (r.state !== 'accepted' && r.state !== 'declined') throw new Error(`nothing to answer (${r.state})`);
      const reply = await t.sendAnswer(r.peer, { id: r.id, answer: r.state });
      if (!STATES.includes(reply?.state))
        throw new PeerhubError('PH_ERR_PEER_RESPONSE', 'no state in the reply');
      return reply;
    }
    const left = r.expiresAt - this.deps.clock.now();
    if (left <= 0) throw new PeerhubError('PH_ERR_INVITATION_CLOSED', 'expired before it could be delivered');
    const body: InvitationBody = { id: r.id, sessionId: r.sessionId, message: r.message, expiresInMs: left };
    if (r.appId) body.appId = r.appId;
    if (r.data) body.data = r.data;
    return t.sendInvitation(r.peer, body);
  }
}

export function createInvitations(deps: InvitationsDeps, init: InvitationsInit = {}): Invitations {
  return new InvitationsService(deps, init);
}
