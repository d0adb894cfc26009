/**
 * The panel's shell: gathers what the agent knows into PanelInputs, shows `leds()` on the board, wakes
 * up at `nextChange()`, and turns button presses into the owner's answers (the same actions as the CLI's
 * `accept`/`decline`/`host accept`) or a presence change.
 */
import { afterIo } from '../core/defer.js';
import type { Clock, Timer } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { CollabControl } from '../control/collab-types.js';
import type { PresenceStatus } from '../presence/types.js';
import {
  leds,
  nextChange,
  onButton,
  type ButtonName,
  type HubStatus,
  type LedName,
  type Outcome,
  type PanelAction,
  type PanelInputs,
  type Pattern,
} from './machine.js';

/** What the panel drives: johnny-five on the linux or the virtual IO plugin (board/board-driver.ts). */
export interface PanelBoard {
  readonly kind: 'linux' | 'virtual';
  show(led: LedName, pattern: Pattern): void;
  /** Short presses and long presses (held past the hold time; no short press follows a long one). */
  onButton(fn: (button: ButtonName, long: boolean) => void): void;
  /** What the buttons are doing right now. */
  buttons(): Array<{ name: ButtonName; pressed: boolean }>;
  /** Virtual board: a press through the same components as a physical one. */
  simulate?(button: ButtonName, long: boolean): Promise<void>;
  close(): Promise<void>;
}

type Result = PanelAction & { error?: string };

export interface PanelDeps {
  clock: Clock;
  logger: Logger;
  bus: {
    emit(type: string, data: unknown): unknown;
    onAny(fn: (ev: { type: string; data: unknown }) => void): () => void;
  };
  board: PanelBoard;
  /** The collaboration services (null until they are up). */
  collab(): CollabControl | null;
  /** Current local presence (null: signed out). */
  presence(): PresenceStatus | null;
  setPresence(status: PresenceStatus): Promise<unknown>;
  /** ready / no-network / fault, asked at each refresh. */
  health(): HubStatus;
}

export interface PanelView {
  board: 'linux' | 'virtual';
  status: HubStatus;
  leds: Array<{ name: LedName } & Pattern>;
  buttons: Array<{ name: ButtonName; pressed: boolean }>;
  waiting: number;
}

/** Health is asked again this often even when nothing happens (a cable pulled). */
const HEALTH_EVERY_MS = 10_000;
const OUTCOMES: Record<string, Outcome> = {
  'invitation:expired': 'expired',
  'invitation:cancelled': 'cancelled',
  'invitation:failed': 'failed',
};

const ledList = (l: Record<LedName, Pattern>): PanelView['leds'] =>
  (Object.keys(l) as LedName[]).map((name) => ({ name, ...l[name] }));

export class Panel {
  private readonly log: Logger;
  private booting = true;
  private flash: PanelInputs['flash'] = null;
  private outLastClosedAt: number | null = null;
  private shown: Record<LedName, string> = { invite: '', status: '', presence: '' };
  private current: Record<LedName, Pattern> | null = null;
  private wake: Timer | null = null;
  private health: Timer | null = null;
  private off: (() => void) | null = null;
  private closed = false;
  private pending = false;
  private readonly waiters: Array<(r: Result) => void> = [];

  constructor(private readonly deps: PanelDeps) {
    this.log = deps.logger.child({ component: 'panel' });
  }

  start(): void {
    this.off = this.deps.bus.onAny((ev) => this.onEvent(ev.type, ev.data));
    this.deps.board.onButton((b, long) => {
      void this.press(b, long).then((r) => this.waiters.shift()?.(r));
    });
    const beat = (): void => {
      this.refresh();
      this.health = this.deps.clock.setTimer(HEALTH_EVERY_MS, beat);
    };
    beat();
  }

  /** The agent finished starting: the status LED leaves its booting pattern. */
  ready(): void {
    this.booting = false;
    this.refresh();
  }

  inputs(): PanelInputs {
    const now = this.deps.clock.now();
    const c = this.deps.collab();
    const waiting: PanelInputs['waiting'] = [];
    let outPending = 0;
    if (c) {
      for (const i of c.invitations({ direction: 'in', state: 'pending' })) {
        waiting.push({ kind: 'invitation', id: i.id, createdAt: i.createdAt, expiresAt: i.expiresAt });
      }
      for (const r of c.hostRequests({ direction: 'in', state: 'pending' })) {
        waiting.push({ kind: 'host-request', id: r.id, createdAt: r.createdAt, expiresAt: r.expiresAt });
      }
      outPending = c
        .invitations({ direction: 'out', state: 'pending' })
        .filter((i) => i.expiresAt > now).length;
    }
    return {
      status: this.booting ? 'booting' : this.deps.health(),
      presence: this.deps.presence(),
      waiting,
      outPending,
      outLastClosedAt: this.outLastClosedAt,
      flash: this.flash,
    };
  }

  view(): PanelView {
    const i = this.inputs();
    return {
      board: this.deps.board.kind,
      status: i.status,
      leds: ledList(leds(i, this.deps.clock.now())),
      buttons: this.deps.board.buttons(),
      waiting: i.waiting.length,
    };
  }

  /**
   * A press from the control API: on the virtual board through its Button components (the same path
   * as a finger on hardware), otherwise (hardware with remote presses allowed) straight to the action.
   */
  async pressRemote(button: ButtonName, long: boolean): Promise<Result> {
    const sim = this.deps.board.simulate;
    if (!sim) return this.press(button, long);
    let waiter!: (r: Result) => void;
    const result = new Promise<Result>((resolve) => {
      waiter = resolve;
      this.waiters.push(resolve);
    });
    const timer = this.deps.clock.setTimer(5000, () => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      waiter({ type: 'none', reason: 'the press was not registered' });
    });
    await sim.call(this.deps.board, button, long);
    const r = await result;
    timer.cancel();
    return r;
  }

  /** A button: what it means now, carried out. */
  async press(button: ButtonName, long: boolean): Promise<Result> {
    const action = onButton(this.inputs(), button, long, this.deps.clock.now());
    this.log.info({ button, long, action: action.type }, 'button');
    const c = this.deps.collab();
    try {
      if (action.type === 'presence') await this.deps.setPresence(action.status);
      else if (action.type === 'answer' && c) {
        const accept = action.answer === 'accepted';
        if (action.kind === 'host-request') await c.answerHostRequest(action.id, action.answer);
        else await (accept ? c.accept(action.id) : c.decline(action.id));
      }
    } catch (e) {
      this.log.warn({ button, err: (e as Error).message }, 'button action failed');
      this.show({ outcome: 'failed', at: this.deps.clock.now() });
      return { ...action, error: (e as Error).message };
    }
    if (action.type === 'answer') this.show({ outcome: action.answer, at: this.deps.clock.now() });
    this.refresh();
    return action;
  }

  private show(flash: NonNullable<PanelInputs['flash']>): void {
    this.flash = flash;
    this.refresh();
  }

  private onEvent(type: string, data: unknown): void {
    if (type === 'panel:changed') return;
    const inv = (data as { invitation?: { direction?: string } } | null)?.invitation;
    const now = this.deps.clock.now();
    if (inv?.direction === 'in' && OUTCOMES[type]) this.flash = { outcome: OUTCOMES[type], at: now };
    if (inv?.direction === 'out' && (type === 'invitation:answered' || OUTCOMES[type])) {
      this.outLastClosedAt = now;
    }
    if (type.startsWith('invitation:') || type.startsWith('host-request:') || type.startsWith('presence:')) {
      this.refreshSoon();
    }
  }

  /**
   * From a bus listener: a burst of events (one invitation makes several) makes one refresh, after
   * the I/O the event started (a reply to a peer, a line on the event stream) has gone out: the LEDs
   * follow a loop turn later, the peer and the owner do not wait for them.
   */
  private refreshSoon(): void {
    if (this.pending) return;
    this.pending = true;
    afterIo(() => {
      this.pending = false;
      this.refresh();
    });
  }

  /** Recompute, push what changed to the board, and sleep until the picture changes by itself. */
  refresh(): void {
    if (this.closed) return;
    let i: PanelInputs;
    try {
      i = this.inputs();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'panel inputs unavailable');
      return;
    }
    const now = this.deps.clock.now();
    const l = leds(i, now);
    let changed = false;
    for (const name of Object.keys(l) as LedName[]) {
      const key = JSON.stringify(l[name]);
      if (this.shown[name] === key) continue;
      this.shown[name] = key;
      changed = true;
      try {
        this.deps.board.show(name, l[name]);
      } catch (e) {
        this.log.warn({ led: name, err: (e as Error).message }, 'LED not updated');
      }
    }
    this.current = l;
    if (changed) this.deps.bus.emit('panel:changed', { leds: ledList(l) });
    this.wake?.cancel();
    const at = nextChange(i, now);
    this.wake = at === null ? null : this.deps.clock.setTimer(Math.max(1, at - now), () => this.refresh());
  }

  get patterns(): Record<LedName, Pattern> | null {
    return this.current;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.off?.();
    this.wake?.cancel();
    this.health?.cancel();
    await this.deps.board.close();
  }
}
