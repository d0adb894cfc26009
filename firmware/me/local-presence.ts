import type { Logger } from '../core/logger.js';
import { PeerhubError } from '../core/errors.js';
import type { Emitter, PresenceService, PresenceStatus, Scope } from '../presence/types.js';
import { PRESENCE_STATES, SCOPES } from '../presence/types.js';
import { openStore } from '../store/index.js';
import { INITIAL, onSubnet, step } from './machine.js';
import type { LocalPresenceEvent, LocalPresenceEvents, LocalPresenceState } from './types.js';

interface StateFile extends LocalPresenceState {
  version: number;
}

export function validateState(x: unknown): StateFile {
  const o = x as Partial<StateFile> | null;
  if (!o || typeof o !== 'object') throw new Error('not an object');
  if (!SCOPES.includes(o.scope as Scope)) throw new Error(`scope: unknown value ${JSON.stringify(o.scope)}`);
  if (!PRESENCE_STATES.includes(o.status as PresenceStatus))
    throw new Error(`status: unknown value ${JSON.stringify(o.status)}`);
  if (typeof o.text !== 'string' || o.text.length > 255)
    throw new Error('text: must be a string ≤ 255 characters');
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 0)
    throw new Error('seq: must be a non-negative integer');
  return o as StateFile;
}

export interface LocalPresenceDeps {
  logger: Logger;
  bus: Emitter<LocalPresenceEvents>;
  presence: Pick<PresenceService, 'announce' | 'withdraw'>;
}

export interface LocalPresenceInit {
  file: string;
  nickname: string;
  peerId: string;
  port: number;
}

/** The owner's presence and sign-in scope: pure machine + persistence + announcing (the shell). */
export class LocalPresence {
  private constructor(
    private readonly deps: LocalPresenceDeps,
    private readonly init: LocalPresenceInit,
    private readonly store: Awaited<ReturnType<typeof openStore<StateFile>>>,
    private current: LocalPresenceState,
  ) {}

  static async open(deps: LocalPresenceDeps, init: LocalPresenceInit): Promise<LocalPresence> {
    const store = await openStore<StateFile>(
      { file: init.file, defaults: { version: 1, ...INITIAL }, version: 1, validate: validateState },
      { logger: deps.logger },
    );
    const { version: _v, ...state } = store.data;
    return new LocalPresence(deps, init, store, state);
  }

  get state(): LocalPresenceState {
    return this.current;
  }

  /** Publish what was persisted (the agent restarts signed in as it was). */
  start(): void {
    if (onSubnet(this.current.scope)) this.announce();
  }

  async stop(): Promise<void> {
    await this.store.close?.();
  }

  set(status: PresenceStatus, text?: string): Promise<LocalPresenceState> {
    return this.apply({ type: 'set', status, text });
  }

  signIn(scope: Exclude<Scope, 'None'>): Promise<LocalPresenceState> {
    return this.apply({ type: 'signin', scope });
  }

  signOut(): Promise<LocalPresenceState> {
    return this.apply({ type: 'signout' });
  }

  private announce(): void {
    const s = this.current;
    this.deps.presence.announce({
      nickname: this.init.nickname,
      peerId: this.init.peerId,
      status: s.status,
      seq: s.seq,
      port: this.init.port,
    });
  }

  private async apply(ev: LocalPresenceEvent): Promise<LocalPresenceState> {
    const before = this.current;
    const { state, effects } = step(before, ev);
    const has = (type: string): boolean => effects.some((fx) => fx.type === type);
    this.current = state;
    // A change is announced at once (peers see it in milliseconds); the durable write follows.
    if (has('announce')) this.announce();
    if (has('persist')) {
      try {
        await this.store.update((d) => Object.assign(d, state));
      } catch (e) {
        // Nothing changes when it cannot be kept: back to the previous state, told to the subnet too.
        this.current = before;
        if (has('announce')) {
          if (onSubnet(before.scope)) this.announce();
          else await this.deps.presence.withdraw();
        }
        throw e instanceof PeerhubError ? e : new PeerhubError('PH_ERR_STORE_WRITE', (e as Error).message);
      }
    }
    if (has('withdraw')) await this.deps.presence.withdraw();
    if (state !== before) {
      this.deps.logger.info({ scope: state.scope, status: state.status, seq: state.seq }, 'presence changed');
      this.deps.bus.emit('presence:changed', state);
      if (state.scope !== before.scope)
        this.deps.bus.emit('scope:changed', { from: before.scope, to: state.scope });
    }
    return state;
  }
}
