/**
 * The shell around the verification machine: follows the People Near Me table, runs proofs
 * (a TLS handshake proves or refutes the announced id) with bounded concurrency, schedules retries and
 * emits `peer:verified` / `peer:spoof`. One machine per (announced peer id, endpoint).
 */
import type { Timer } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { parsePeerId, shortId } from '../identity/peerid.js';
import { DEFAULT_PEER_PORT } from '../wire/server.js';
import type { NearbyPeer } from '../presence/types.js';
import { parseEndpoint } from './endpoint.js';
import {
  classify,
  initialVerifyState,
  step,
  VERIFY_DEFAULTS,
  type CheckOutcome,
  type VerifyEffect,
  type VerifyEvent,
  type VerifyState,
} from './machine.js';
import type {
  NearbyVerifier,
  NearbyVerifierDeps,
  NearbyVerifierInit,
  PeerEventType,
  PeopleNearMeRow,
} from './types.js';

interface Target {
  id: string;
  endpoint: string;
  state: VerifyState;
  timer?: Timer;
}

const keyOf = (id: string, endpoint: string): string => `${id} ${endpoint}`;
const short = (id: string): string => {
  try {
    return shortId(id);
  } catch {
    return id.slice(0, 12);
  }
};

/** The (id, endpoint) pairs a row asks us to check. */
function pairsOf(p: NearbyPeer, self: string): Array<[string, string]> {
  if (!p.wellFormed || !p.id || p.id === self) return [];
  const id = p.id;
  return p.endpoints.map((ep) => [id, ep]);
}

class Verifier implements NearbyVerifier {
  private readonly log: Logger;
  private readonly cfg: Required<Omit<NearbyVerifierInit, 'selfPeerId'>>;
  private readonly targets = new Map<string, Target>();
  private readonly rows = new Map<string, NearbyPeer>(); // by instance, as the events told us
  private readonly shownVerified = new Set<string>(); // instances for which peer:verified was emitted
  private readonly proven = new Map<string, number>(); // pair → when a check proved it (outlives the target)
  private queue: string[] = [];
  private inflight = 0;
  private readonly aborts = new Set<() => void>(); // checks in flight: drop their answer, cancel their time-out
  private running = false;
  private off: (() => void) | null = null;
  private readonly count = { checks: 0, verified: 0, remembered: 0, spoofs: 0, failures: 0, dropped: 0 };

  constructor(
    private readonly deps: NearbyVerifierDeps,
    private readonly init: NearbyVerifierInit,
  ) {
    this.log = deps.logger.child({ component: 'nearby' });
    const { selfPeerId: _self, ...rest } = init;
    this.cfg = { ...VERIFY_DEFAULTS, ...rest };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.off = this.deps.onPeerEvent((type, peer) => this.onPeer(type, peer));
    for (const p of this.deps.peers()) this.onPeer('peer:found', p);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.off?.();
    this.off = null;
    for (const t of this.targets.values()) t.timer?.cancel();
    for (const abort of [...this.aborts]) abort();
    this.targets.clear();
    this.rows.clear();
    this.shownVerified.clear();
    this.proven.clear();
    this.queue = [];
    // Fetches in flight settle on their own (the client has time-outs); their results are dropped.
  }

  view(): PeopleNearMeRow[] {
    return this.deps.peers().map((p) => this.row(p));
  }

  rowsOf(peerId: string): PeopleNearMeRow[] {
    return this.deps
      .peers()
      .filter((p) => p.id === peerId)
      .map((p) => this.row(p));
  }

  counters(): Record<string, number> {
    return { ...this.count, targets: this.targets.size, queued: this.queue.length, inflight: this.inflight };
  }

  private row(p: NearbyPeer): PeopleNearMeRow {
    const states = pairsOf(p, this.init.selfPeerId)
      .map(([id, ep]) => this.targets.get(keyOf(id, ep))?.state)
      .filter((s): s is VerifyState => s !== undefined);
    const spoofed = states.find((s) => s.phase === 'spoof');
    const verified = !spoofed && states.some((s) => s.phase === 'verified');
    const row: PeopleNearMeRow = {
      ...p,
      endpoints: [...p.endpoints],
      verified,
      spoof: spoofed !== undefined,
      contact: verified && p.id !== null && this.deps.isContact(p.id),
    };
    if (spoofed?.presented) row.spoofedBy = spoofed.presented;
    return row;
  }

  private onPeer(type: PeerEventType, peer: NearbyPeer): void {
    if (!this.running) return;
    const before = new Set(this.targets.keys());
    if (type === 'peer:lost') {
      this.rows.delete(peer.instance);
      this.shownVerified.delete(peer.instance);
    } else this.rows.set(peer.instance, peer);
    // Which pairs are still announced by some row.
    const wanted = new Map<string, [string, string]>();
    for (const r of this.rows.values())
      for (const [id, ep] of pairsOf(r, this.init.selfPeerId)) wanted.set(keyOf(id, ep), [id, ep]);
    for (const key of before) if (!wanted.has(key)) this.apply(key, { type: 'lost' });
    if (type === 'peer:lost') return;
    for (const [id, ep] of pairsOf(peer, this.init.selfPeerId)) {
      const key = keyOf(id, ep);
      if (!this.targets.has(key)) {
        if (this.targets.size >= this.cfg.maxTargets) {
          this.count.dropped++;
          continue;
        }
        const now = this.deps.clock.now();
        const age = now - (this.proven.get(key) ?? -Infinity);
        const remembered = age >= 0 && age < this.cfg.rememberMs;
        const state = initialVerifyState(now);
        this.targets.set(key, {
          id,
          endpoint: ep,
          state: remembered ? { ...state, phase: 'verified' } : state,
        });
        if (remembered) this.count.remembered++;
        else this.queue.push(key);
      } else if (type === 'peer:found') this.apply(key, { type: 'seen' });
    }
    this.refreshRows();
    this.pump();
  }

  private apply(key: string, ev: VerifyEvent): void {
    const t = this.targets.get(key);
    if (!t) return;
    const { state, effects } = step(t.state, ev, this.deps.clock.now(), this.cfg);
    if (state) t.state = state;
    else this.targets.delete(key);
    for (const fx of effects) this.effect(key, t, fx);
  }

  private effect(key: string, t: Target, fx: VerifyEffect): void {
    switch (fx.type) {
      case 'enqueue':
        this.queue.push(key);
        return this.pump();
      case 'check':
        return this.check(key, t, fx.token);
      case 'schedule': {
        t.timer?.cancel();
        t.timer = this.deps.clock.setTimer(fx.at - this.deps.clock.now(), () => {
          t.timer = undefined;
          this.apply(key, { type: 'retry' });
        });
        return;
      }
      case 'cancel':
        t.timer?.cancel();
        t.timer = undefined;
        return;
      case 'verified':
        this.count.verified++;
        this.remember(key);
        this.log.info({ peer: short(t.id), endpoint: t.endpoint }, 'nearby peer verified');
        return this.refreshRows();
      case 'spoof':
        this.count.spoofs++;
        this.proven.delete(key);
        this.log.warn(
          { claimed: short(t.id), presented: short(fx.presented), endpoint: t.endpoint },
          'nearby peer announces an id it cannot prove',
        );
        for (const r of this.rows.values()) {
          if (r.id !== t.id || !r.endpoints.includes(t.endpoint)) continue;
          this.deps.bus.emit('peer:spoof', {
            claimed: t.id,
            presented: fx.presented,
            endpoint: t.endpoint,
            instance: r.instance,
          });
        }
        return this.refreshRows();
    }
  }

  /** Note when `key` was proven; the oldest proofs go first once there are maxTargets of them. */
  private remember(key: string): void {
    this.proven.delete(key); // re-inserted last: a Map iterates in insertion order
    this.proven.set(key, this.deps.clock.now());
    if (this.proven.size > this.cfg.maxTargets) this.proven.delete(this.proven.keys().next().value as string);
  }

  /** Start queued checks while slots are free. */
  private pump(): void {
    while (this.running && this.inflight < this.cfg.concurrency && this.queue.length > 0) {
      const key = this.queue.shift() as string;
      const t = this.targets.get(key);
      if (t?.state.phase === 'queued') this.apply(key, { type: 'begin' });
    }
  }

  private check(key: string, t: Target, token: number): void {
    const ep = parseEndpoint(t.endpoint, DEFAULT_PEER_PORT);
    if (!ep) return this.finish(key, token, { kind: 'failed', reason: 'unusable endpoint' }, false);
    this.inflight++;
    this.count.checks++;
    let done = false;
    const abort = (): boolean => {
      if (done) return false;
      done = true;
      timeout.cancel();
      this.aborts.delete(abort);
      this.inflight--;
      return true;
    };
    const settle = (outcome: CheckOutcome): void => {
      if (abort()) this.finish(key, token, outcome, true);
    };
    this.aborts.add(abort);
    const timeout = this.deps.clock.setTimer(this.cfg.checkTimeoutMs, () =>
      settle({ kind: 'failed', reason: `no answer in ${this.cfg.checkTimeoutMs} ms`, busy: true }),
    );
    Promise.resolve()
      .then(() => this.deps.prove({ peerId: t.id, host: ep.host, port: ep.port }))
      .then(
        (proof) => settle(classify(t.id, { ok: true, proven: proof?.peerId }, parsePeerId)),
        (error: unknown) => settle(classify(t.id, { ok: false, error }, parsePeerId)),
      );
  }

  private finish(key: string, token: number, outcome: CheckOutcome, async: boolean): void {
    if (!this.running) return;
    if (outcome.kind === 'failed') {
      this.count.failures++;
      this.proven.delete(key); // what was proven no longer answers: check it again when it is back
      this.log.debug({ peer: short(key.split(' ')[0] ?? ''), reason: outcome.reason }, 'nearby check failed');
    }
    this.apply(key, { type: 'result', token, outcome });
    if (outcome.kind === 'failed') this.refreshRows();
    if (async) this.pump();
  }

  /** Emit `peer:verified` for rows that just became verified; forget rows that no longer are. */
  private refreshRows(): void {
    for (const r of this.rows.values()) {
      const row = this.row(r);
      if (!row.verified) this.shownVerified.delete(r.instance);
      else if (!this.shownVerified.has(r.instance)) {
        this.shownVerified.add(r.instance);
        this.deps.bus.emit('peer:verified', { peer: row });
      }
    }
  }
}

export function createNearbyVerifier(deps: NearbyVerifierDeps, init: NearbyVerifierInit): NearbyVerifier {
  return new Verifier(deps, init);
}
