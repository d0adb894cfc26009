/**
 * Host requests service: the shell around the pure machine. Host side: validates and rate-limits
 * requests, applies the owner's policy (accepting opens a session through `openSession`), lets the
 * owner answer, tells the requester. Requester side: `request()` resolves with the host's answer.
 * Records are kept in memory (they live minutes; a requester's promise cannot outlive a restart).
 */
import type { Clock, Timer } from '../core/clock.js';
import { PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { parsePeerId } from '../identity/index.js';
import type { Emitter } from '../presence/types.js';
import { TokenBuckets } from '../wire/index.js';
import { hostDecision, stepHostRequest, type HostRequestEvent } from './host-requests-machine.js';
import type {
  HostAnswerBody,
  HostPolicy,
  HostRequest,
  HostRequestBody,
  HostRequestEvents,
  HostRequestOutcome,
  HostRequestReply,
  HostRequests,
  HostRequestState,
  HostRequestTransport,
} from './host-requests-types.js';
import {
  checkId,
  checkMessage,
  checkToken,
  newInvitationId,
  ok,
  refuse,
  refuseError,
} from './invitations-wire.js';
import type { InboundResult } from './types.js';

/** The longest an expiry timer waits before looking at the wall clock again. */
const EXPIRY_CHECK_MS = 30_000;

export interface HostRequestsDeps {
  clock: Clock;
  logger: Logger;
  bus: Emitter<HostRequestEvents>;
  transport: HostRequestTransport;
  isContact(peerId: string): boolean;
  /** Open the session an accepted request will be hosted in; its id goes back to the requester. */
  openSession?(request: HostRequest): Promise<string>;
}

export interface HostRequestsInit {
  policy?: HostPolicy; // auto-contacts
  ttlMs?: number; // a pending request expires after 5 min
  marginMs?: number; // the requester waits this much longer, so the host's "expired" normally arrives (10 s)
  maxKept?: number; // records kept (256); pending ones at most a quarter of it
  rate?: { perMinute?: number; burst?: number }; // per requester: 10 a minute, bursts of 5
}

export const HOST_REQUEST_DEFAULTS = { ttlMs: 5 * 60_000, marginMs: 10_000, maxKept: 256 };

function invalid(e: unknown): PeerhubError {
  return new PeerhubError('PH_ERR_HOST_REQUEST_INVALID', (e as Error).message, { statusCode: 400 });
}

function fields(x: unknown, allowed: string[]): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error('must be a JSON object');
  const extra = Object.keys(x).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw new Error(`unknown field ${JSON.stringify(extra)}`);
  return x as Record<string, unknown>;
}

export function parseHostRequestBody(x: unknown): HostRequestBody {
  try {
    const o = fields(x, ['id', 'appId', 'message']);
    const b: HostRequestBody = { id: checkId(o.id), message: checkMessage(o.message ?? '') };
    if (o.appId !== undefined) b.appId = checkToken(o.appId, 'appId');
    return b;
  } catch (e) {
    throw invalid(e);
  }
}

export function parseHostAnswerBody(x: unknown): HostAnswerBody {
  try {
    const o = fields(x, ['id', 'state', 'sessionId', 'reason']);
    if (o.state !== 'accepted' && o.state !== 'declined' && o.state !== 'expired') {
      throw new Error('state: "accepted", "declined" or "expired"');
    }
    const b: HostAnswerBody = { id: checkId(o.id), state: o.state };
    if (o.sessionId !== undefined) b.sessionId = checkToken(o.sessionId, 'sessionId');
    if (o.reason !== undefined) b.reason = checkMessage(o.reason);
    return b;
  } catch (e) {
    throw invalid(e);
  }
}

const canon = (id: string): string => {
  try {
    return parsePeerId(id);
  } catch {
    return id;
  }
};

class HostRequestsService implements HostRequests {
  private readonly log: Logger;
  private readonly records = new Map<string, HostRequest>();
  private readonly timers = new Map<string, Timer>();
  private readonly waiters = new Map<string, { resolve: (o: HostRequestOutcome) => void }>();
  private readonly buckets: TokenBuckets;
  private mode: HostPolicy;
  private running = false;

  constructor(
    private readonly deps: HostRequestsDeps,
    private readonly init: HostRequestsInit = {},
  ) {
    this.log = deps.logger.child({ component: 'host-requests' });
    this.mode = init.policy ?? 'auto-contacts';
    const perMinute = init.rate?.perMinute ?? 10;
    this.buckets = new TokenBuckets({ perSecond: perMinute / 60, burst: init.rate?.burst ?? 5 });
  }

  async start(): Promise<void> {
    this.running = true;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    for (const w of this.waiters.values()) w.resolve({ state: 'expired', reason: 'stopped' });
    this.waiters.clear();
    this.records.clear();
  }

  policy(): HostPolicy {
    return this.mode;
  }

  setPolicy(p: HostPolicy): void {
    if (p !== 'auto-contacts' && p !== 'ask' && p !== 'never') {
      throw new PeerhubError('PH_ERR_BAD_REQUEST', 'host policy: "auto-contacts", "ask" or "never"', {
        statusCode: 400,
      });
    }
    this.mode = p;
  }

  list(filter: { direction?: 'in' | 'out'; state?: HostRequestState } = {}): HostRequest[] {
    return [...this.records.values()]
      .filter(
        (r) => (filter.direction ?? r.direction) === r.direction && (filter.state ?? r.state) === r.state,
      )
      .map((r) => structuredClone(r));
  }

  get(id: string): HostRequest {
    const r = this.records.get(id);
    if (!r)
      throw new PeerhubError('PH_ERR_HOST_REQUEST_NOT_FOUND', `no host request ${id}`, { statusCode: 404 });
    return structuredClone(r);
  }

  async request(
    peerId: string,
    opts: { appId?: string; message?: string; timeoutMs?: number } = {},
  ): Promise<HostRequestOutcome> {
    this.ensureRunning();
    let peer: string;
    let body: HostRequestBody;
    try {
      peer = parsePeerId(peerId);
      body = parseHostRequestBody({
        id: newInvitationId(),
        message: opts.message ?? '',
        ...(opts.appId ? { appId: opts.appId } : {}),
      });
    } catch (e) {
      throw e instanceof PeerhubError ? e : invalid(e);
    }
    const ttlMs =
      opts.timeoutMs ??
      (this.init.ttlMs ?? HOST_REQUEST_DEFAULTS.ttlMs) +
        (this.init.marginMs ?? HOST_REQUEST_DEFAULTS.marginMs);
    const outcome = new Promise<HostRequestOutcome>((resolve) => this.waiters.set(body.id, { resolve }));
    this.apply(body.id, { type: 'create', peer, body, ttlMs });
    try {
      const reply = await this.deps.transport.sendHostRequest(peer, body);
      if (reply.state !== 'pending')
        this.apply(body.id, { type: 'answerReceived', ...reply, state: reply.state });
    } catch (e) {
      this.apply(body.id, { type: 'failed', reason: (e as Error).message });
      this.waiters.delete(body.id);
      throw e;
    }
    return outcome;
  }

  async answer(id: string, answer: 'accepted' | 'declined'): Promise<HostRequest> {
    this.ensureRunning();
    const r = this.get(id);
    if (r.direction !== 'in')
      throw new PeerhubError('PH_ERR_HOST_REQUEST_INVALID', 'only the host answers', { statusCode: 400 });
    await this.decide(id, answer);
    return this.get(id);
  }

  async onHostRequest(fromPeerId: string, body: unknown): Promise<InboundResult<HostRequestReply>> {
    if (!this.running) return refuse({ code: 'PH_ERR_INTERNAL', message: 'not running', statusCode: 503 });
    const from = canon(fromPeerId);
    let b: HostRequestBody;
    try {
      b = parseHostRequestBody(body);
    } catch (e) {
      return refuseError(e);
    }
    const known = this.records.get(b.id);
    if (known) {
      const step = stepHostRequest(
        known,
        { type: 'received', peer: from, body: b, ttlMs: 0 },
        this.deps.clock.now(),
      );
      return step.refused ? refuse(step.refused) : ok(this.reply(known));
    }
    if (!this.buckets.take(from, this.deps.clock.now())) {
      return refuse({ code: 'PH_ERR_RATE_LIMITED', message: 'too many host requests', statusCode: 429 });
    }
    const maxKept = this.init.maxKept ?? HOST_REQUEST_DEFAULTS.maxKept;
    if (this.list({ state: 'pending', direction: 'in' }).length >= maxKept / 4) {
      return refuse({
        code: 'PH_ERR_RATE_LIMITED',
        message: 'too many pending host requests',
        statusCode: 429,
      });
    }
    this.apply(b.id, {
      type: 'received',
      peer: from,
      body: b,
      ttlMs: this.init.ttlMs ?? HOST_REQUEST_DEFAULTS.ttlMs,
    });
    const d = hostDecision(this.mode, this.deps.isContact(from));
    this.log.info({ id: b.id, peer: from.slice(0, 7), decision: d }, 'host request received');
    if (d !== 'ask') await this.decide(b.id, d === 'accept' ? 'accepted' : 'declined', 'by policy');
    return ok(this.reply(this.records.get(b.id) as HostRequest));
  }

  async onHostAnswer(fromPeerId: string, body: unknown): Promise<InboundResult<{ state: HostRequestState }>> {
    if (!this.running) return refuse({ code: 'PH_ERR_INTERNAL', message: 'not running', statusCode: 503 });
    let b: HostAnswerBody;
    try {
      b = parseHostAnswerBody(body);
    } catch (e) {
      return refuseError(e);
    }
    const r = this.records.get(b.id);
    if (!r || r.direction !== 'out' || r.peer !== canon(fromPeerId)) {
      return refuse({
        code: 'PH_ERR_HOST_REQUEST_NOT_FOUND',
        message: `no host request ${b.id} to you`,
        statusCode: 404,
      });
    }
    const step = this.apply(b.id, { type: 'answerReceived', ...b });
    return ok({ state: (step ?? r).state });
  }

  private reply(r: HostRequest): HostRequestReply {
    const state = r.state === 'failed' ? 'declined' : r.state;
    return {
      state,
      ...(r.sessionId ? { sessionId: r.sessionId } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
    };
  }

  private ensureRunning(): void {
    if (!this.running) throw new PeerhubError('PH_ERR_INTERNAL', 'host requests service is not running');
  }

  /** Accepting opens the session first; if that fails the request is declined with the reason. */
  private async decide(id: string, answer: 'accepted' | 'declined', why?: string): Promise<void> {
    const r = this.get(id);
    let sessionId: string | undefined;
    let reason = why;
    if (answer === 'accepted' && r.state === 'pending' && this.deps.openSession) {
      try {
        sessionId = await this.deps.openSession(r);
      } catch (e) {
        answer = 'declined';
        reason = `could not open a session: ${(e as Error).message}`;
      }
    }
    const step = stepHostRequest(
      this.records.get(id) ?? null,
      { type: 'answer', answer, sessionId, reason },
      this.deps.clock.now(),
    );
    this.run(id, step);
    if (step.refused)
      throw new PeerhubError(step.refused.code, step.refused.message, {
        statusCode: step.refused.statusCode,
      });
  }

  private apply(id: string, ev: HostRequestEvent): HostRequest | null {
    const step = stepHostRequest(this.records.get(id) ?? null, ev, this.deps.clock.now());
    return this.run(id, step);
  }

  /**
   * Look at a pending request at `at` (wall clock): at most EXPIRY_CHECK_MS later, and again when the
   * timer fires before `at` (a millisecond early, or the wall clock was set back), never dropped.
   */
  private arm(id: string, at: number): void {
    this.timers.get(id)?.cancel();
    const wait = Math.min(Math.max(0, at - this.deps.clock.now()), EXPIRY_CHECK_MS);
    this.timers.set(
      id,
      this.deps.clock.setTimer(wait, () => {
        this.timers.delete(id);
        if (this.records.get(id)?.state !== 'pending' || !this.running) return;
        if (this.deps.clock.now() < at) return this.arm(id, at);
        this.apply(id, { type: 'tick' });
      }),
    );
  }

  private run(id: string, step: ReturnType<typeof stepHostRequest>): HostRequest | null {
    const r = step.state;
    if (!r || !this.running) return r;
    this.records.set(id, r);
    for (const fx of step.effects) {
      if (fx.type === 'emit') this.deps.bus.emit(fx.event, { request: structuredClone(r) });
      else if (fx.type === 'schedule') this.arm(id, fx.at);
      else if (fx.type === 'settle') {
        const w = this.waiters.get(id);
        this.waiters.delete(id);
        if (w && r.state !== 'pending' && r.state !== 'failed') {
          w.resolve({
            state: r.state,
            ...(r.sessionId ? { sessionId: r.sessionId } : {}),
            ...(r.reason ? { reason: r.reason } : {}),
          });
        }
      } else this.tell(r);
    }
    if (r.state !== 'pending') {
      this.timers.get(id)?.cancel();
      this.timers.delete(id);
      this.prune();
    }
    return r;
  }

  /** Tell the requester (a few attempts; if none lands it times out on its side: `expired`). */
  private tell(r: HostRequest, attempt = 0): void {
    if (r.state !== 'accepted' && r.state !== 'declined' && r.state !== 'expired') return;
    const body: HostAnswerBody = {
      id: r.id,
      state: r.state,
      ...(r.sessionId ? { sessionId: r.sessionId } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
    };
    this.deps.transport.sendHostAnswer(r.peer, body).catch((e: unknown) => {
      if (!this.running || attempt >= 2)
        return this.log.warn({ id: r.id, reason: (e as Error).message }, 'host answer not delivered');
      this.deps.clock.setTimer(1000 * 2 ** attempt, () => this.tell(r, attempt + 1));
    });
  }

  private prune(): void {
    const max = this.init.maxKept ?? HOST_REQUEST_DEFAULTS.maxKept;
    const closed = [...this.records.values()].filter((r) => r.state !== 'pending');
    for (const r of closed.slice(0, Math.max(0, closed.length - max))) this.records.delete(r.id);
  }
}

export function createHostRequests(deps: HostRequestsDeps, init: HostRequestsInit = {}): HostRequests {
  return new HostRequestsService(deps, init);
}
