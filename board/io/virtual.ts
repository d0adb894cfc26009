/**
 * The same panel pins in memory: the default wherever no hub hardware is found (dev machines, CI).
 * LED writes and blink patterns are recorded (no timers); `press`/`release` drive the button pins
 * through the same digitalRead path as the hardware, so the real panel logic runs unchanged, and the
 * control API can show the LEDs (`snapshot()`) and press buttons remotely.
 */
import { EventEmitter } from 'node:events';
import { BoardError } from '../errors.js';
import type { PinMap } from '../pins.js';
import { MODES, pinTable, type LedState, type PanelIO, type PinInfo } from '../types.js';

export interface LedView {
  name: string;
  state: LedState;
  onMs?: number;
  offMs?: number;
}

export interface ButtonView {
  name: string;
  pressed: boolean;
}

export interface PanelSnapshot {
  leds: LedView[];
  buttons: ButtonView[];
}

export type VirtualChange = ({ kind: 'led' } & LedView) | ({ kind: 'button' } & ButtonView);

export class VirtualIO extends EventEmitter implements PanelIO {
  readonly name = 'peerhub-virtual';
  readonly HIGH = 1 as const;
  readonly LOW = 0 as const;
  readonly MODES = MODES;
  readonly hasHardwareBlink = true as const;
  readonly analogPins: number[] = [];
  readonly pins: PinInfo[];
  isReady = false;

  private readonly index = new Map<string, number>();
  private readonly leds = new Map<number, LedView>();
  private readonly readers = new Map<number, Array<(value: number) => void>>();
  private readonly holds = new Map<number, { timer: NodeJS.Timeout; done: () => void }>();
  private closed = false;

  constructor(pins: Pick<PinMap, 'leds' | 'keys'>) {
    super();
    this.pins = pinTable(pins);
    this.pins.forEach((p, i) => {
      this.index.set(p.name, i);
      if (p.kind === 'led') this.leds.set(i, { name: p.name, state: 'off' });
    });
  }

  async open(): Promise<void> {
    if (this.isReady) return;
    if (this.closed) throw new BoardError('PH_ERR_BOARD_NOT_READY', 'the virtual IO was closed');
    this.isReady = true;
    this.emit('connect');
    this.emit('ready');
  }

  normalize(pin: string | number): number {
    const i = typeof pin === 'number' ? pin : (this.index.get(pin) ?? (/^\d+$/.test(pin) ? Number(pin) : -1));
    if (!Number.isInteger(i) || i < 0 || i >= this.pins.length) {
      throw new BoardError(
        'PH_ERR_BOARD_PIN_UNKNOWN',
        `no panel pin ${JSON.stringify(pin)} (pins: ${this.pins.map((p) => p.name).join(', ')})`,
        { statusCode: 404 },
      );
    }
    return i;
  }

  private keyPin(name: string | number): number {
    const i = this.normalize(name);
    if ((this.pins[i] as PinInfo).kind !== 'key')
      throw new BoardError('PH_ERR_BOARD_PIN_UNKNOWN', `panel pin ${JSON.stringify(name)} is not a button`, {
        statusCode: 404,
      });
    return i;
  }

  pinMode(pin: string | number, mode: number): this {
    const p = this.pins[this.normalize(pin)] as PinInfo;
    if (p.supportedModes.includes(mode)) p.mode = mode;
    return this;
  }

  private setLed(i: number, view: LedView): void {
    this.leds.set(i, view);
    (this.pins[i] as PinInfo).value = view.state === 'off' ? 0 : 1;
    this.emit('change', { kind: 'led', ...view } satisfies VirtualChange);
  }

  digitalWrite(pin: string | number, value: number): this {
    const i = this.normalize(pin);
    const led = this.leds.get(i);
    if (led === undefined || this.closed) return this; // key pins: a pull-up request, nothing to do
    this.setLed(i, { name: led.name, state: value !== 0 ? 'on' : 'off' });
    return this;
  }

  digitalRead(pin: string | number, handler: (value: number) => void): this {
    const i = this.normalize(pin);
    const list = this.readers.get(i) ?? [];
    list.push(handler);
    this.readers.set(i, list);
    process.nextTick(() => {
      if (!this.closed && this.readers.get(i)?.includes(handler)) handler((this.pins[i] as PinInfo).value);
    });
    return this;
  }

  blink(pin: string | number, onMs: number, offMs: number): this {
    const i = this.normalize(pin);
    const led = this.leds.get(i);
    if (led === undefined || this.closed) return this;
    this.setLed(i, {
      name: led.name,
      state: 'blink',
      onMs: Math.max(1, Math.round(onMs)),
      offMs: Math.max(1, Math.round(offMs)),
    });
    return this;
  }

  stopBlink(pin: string | number): this {
    const i = this.normalize(pin);
    const led = this.leds.get(i);
    if (led === undefined) return this;
    this.setLed(i, { name: led.name, state: 'off' });
    return this;
  }

  ledState(pin: string | number): { state: LedState; onMs?: number; offMs?: number } {
    const led = this.leds.get(this.normalize(pin));
    if (led === undefined) return { state: 'off' };
    const { state, onMs, offMs } = led;
    return state === 'blink' ? { state, onMs, offMs } : { state };
  }

  private report(i: number, value: number): void {
    const p = this.pins[i] as PinInfo;
    if (p.value === value) return;
    p.value = value;
    for (const h of this.readers.get(i) ?? []) h(value);
    this.emit(`digital-read-${i}`, value);
    this.emit('change', { kind: 'button', name: p.name, pressed: value === 0 } satisfies VirtualChange);
  }

  /**
   * Press a button (active-low: its pin reads 0). With `holdMs` it is released after that long and the
   * promise resolves then; without, it stays down until `release()`. A click needs a few ms of hold:
   * johnny-five debounces press and release together (7 ms).
   */
  press(name: string, opts: { holdMs?: number } = {}): Promise<void> {
    const i = this.keyPin(name);
    if (this.closed)
      return Promise.reject(new BoardError('PH_ERR_BOARD_NOT_READY', 'the virtual IO is closed'));
    this.cancelHold(i);
    this.report(i, 0);
    if (opts.holdMs === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.holds.delete(i);
        this.report(i, 1);
        resolve();
      };
      this.holds.set(i, { timer: setTimeout(done, Math.max(0, opts.holdMs as number)), done });
    });
  }

  release(name: string): void {
    const i = this.keyPin(name);
    const hold = this.holds.get(i);
    if (hold !== undefined) {
      clearTimeout(hold.timer);
      hold.done();
    } else this.report(i, 1);
  }

  private cancelHold(i: number): void {
    const hold = this.holds.get(i);
    if (hold === undefined) return;
    clearTimeout(hold.timer);
    hold.done();
  }

  snapshot(): PanelSnapshot {
    const leds: LedView[] = [];
    const buttons: ButtonView[] = [];
    this.pins.forEach((p, i) => {
      if (p.kind === 'led') leds.push({ ...(this.leds.get(i) as LedView) });
      else buttons.push({ name: p.name, pressed: p.value === 0 });
    });
    return { leds, buttons };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const i of [...this.holds.keys()]) this.cancelHold(i);
    this.pins.forEach((p, i) => {
      if (p.kind === 'key') this.report(i, 1);
      else if (this.leds.get(i)?.state !== 'off') this.setLed(i, { name: p.name, state: 'off' });
    });
    this.closed = true;
    this.isReady = false;
    this.readers.clear();
    this.emit('close');
  }
}
