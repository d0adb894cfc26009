/**
 * johnny-five IO plugin on the kernel's own drivers, for the Pi 4 and Pi 5 alike:
 * - LEDs: gpio-leds class devices, /sys/class/leds/<label>/{brightness,max_brightness,trigger,delay_on,delay_off};
 *   `blink()` hands the pattern to the kernel's `timer` trigger, so steady blinking wakes nothing here.
 * - Buttons: the gpio-keys input device (found by name in /proc/bus/input/devices), EV_KEY records.
 *   Debounce and pull-ups are the overlay's. Pins report 1 released / 0 pressed (active-low), which is
 *   what johnny-five's `Button({ isPullup: true })` expects.
 * No pigpio, no sysfs GPIO export (neither works on a Pi 5 / recent kernels).
 */
import { EventEmitter } from 'node:events';
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BoardError } from '../errors.js';
import type { KeyEvent, RecordSize } from '../input-event.js';
import { overlayFor, overlayHint, type PinMap } from '../pins.js';
import {
  MODES,
  pinTable,
  silentBoardLogger,
  type BoardLogger,
  type LedState,
  type PanelIO,
  type PinInfo,
} from '../types.js';
import { EvdevReader, findInputHandler } from './evdev.js';

/** Retries of the delay_on/delay_off writes after `timer` created them (see setDelays). */
const DELAY_RETRIES = 10;
const DELAY_RETRY_MS = 20;

export interface LinuxRoots {
  /** Default /sys/class/leds. */
  ledsDir: string;
  /** Where `eventN` lives; default /dev/input. */
  devDir: string;
  /** Default /proc/bus/input/devices. */
  procDevicesFile: string;
  /** Default /proc/device-tree/compatible (names the overlay in error messages). */
  compatibleFile: string;
}

export const LINUX_ROOTS: Readonly<LinuxRoots> = Object.freeze({
  ledsDir: '/sys/class/leds',
  devDir: '/dev/input',
  procDevicesFile: '/proc/bus/input/devices',
  compatibleFile: '/proc/device-tree/compatible',
});

export interface LinuxIoOptions {
  pins: PinMap;
  roots?: Partial<LinuxRoots>;
  logger?: BoardLogger;
  /** input_event size; default from the process architecture (24 on arm64). */
  recordSize?: RecordSize;
}

interface LedSlot {
  dir: string;
  max: number;
  state: LedState;
  onMs?: number;
  offMs?: number;
  warned: boolean;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Whether the LED class devices of `pins` exist (auto-detection: is the overlay loaded?). */
export function linuxLedsPresent(pins: PinMap, ledsDir = LINUX_ROOTS.ledsDir): boolean {
  return Object.values(pins.leds).some((l) => existsSync(join(ledsDir, l.label, 'brightness')));
}

export class LinuxIO extends EventEmitter implements PanelIO {
  readonly name = 'peerhub-linux';
  readonly HIGH = 1 as const;
  readonly LOW = 0 as const;
  readonly MODES = MODES;
  readonly hasHardwareBlink = true as const;
  readonly analogPins: number[] = [];
  readonly pins: PinInfo[];
  isReady = false;

  private readonly roots: LinuxRoots;
  private readonly logger: BoardLogger;
  private readonly index = new Map<string, number>();
  private readonly leds = new Map<number, LedSlot>();
  /** key pin index by EV_KEY code */
  private readonly byCode = new Map<number, number>();
  private readonly readers = new Map<number, Array<(value: number) => void>>();
  private reader: EvdevReader | undefined;
  private closed = false;
  private gone = false;

  constructor(private readonly opts: LinuxIoOptions) {
    super();
    this.roots = { ...LINUX_ROOTS, ...opts.roots };
    this.logger = opts.logger ?? silentBoardLogger;
    this.pins = pinTable(opts.pins);
    this.pins.forEach((p, i) => this.index.set(p.name, i));
    for (const [name, k] of Object.entries(opts.pins.keys)) this.byCode.set(k.code, this.normalize(name));
  }

  private hint(): string {
    return overlayHint(overlayFor(readOptional(this.roots.compatibleFile)), this.opts.pins);
  }

  /** Open the LED class devices and the button device; then 'connect' and 'ready'. */
  async open(): Promise<void> {
    if (this.isReady) return;
    if (this.closed) throw new BoardError('PH_ERR_BOARD_NOT_READY', 'the linux IO was closed');
    const missing: string[] = [];
    for (const [name, led] of Object.entries(this.opts.pins.leds)) {
      const dir = join(this.roots.ledsDir, led.label);
      if (!existsSync(join(dir, 'brightness'))) {
        missing.push(`${name} (${dir})`);
        continue;
      }
      const max = Number.parseInt(readOptional(join(dir, 'max_brightness'))?.trim() ?? '', 10);
      this.leds.set(this.normalize(name), {
        dir,
        max: Number.isInteger(max) && max > 0 ? max : 1,
        state: 'off',
        warned: false,
      });
    }
    if (missing.length > 0) {
      throw new BoardError(
        'PH_ERR_BOARD_NO_LEDS',
        `panel LEDs not found: ${missing.join(', ')}; ${this.hint()}`,
      );
    }
    for (const slot of this.leds.values()) {
      try {
        accessSync(join(slot.dir, 'brightness'), constants.W_OK);
      } catch (e) {
        throw new BoardError(
          'PH_ERR_BOARD_ACCESS',
          `cannot write ${join(slot.dir, 'brightness')}: ${(e as Error).message} (the agent needs write access to the LED class devices: a udev rule or root)`,
          { cause: e },
        );
      }
    }

    if (this.byCode.size > 0) {
      const path = this.inputPath();
      try {
        accessSync(path, constants.R_OK);
      } catch (e) {
        throw new BoardError(
          'PH_ERR_BOARD_ACCESS',
          `cannot read ${path}: ${(e as Error).message} (add the agent's user to the "input" group)`,
          { cause: e },
        );
      }
      const reader = new EvdevReader(path, this.opts.recordSize);
      reader.on('key', (k) => this.onKey(k));
      reader.once('end', (reason) => this.onGone(path, reason));
      reader.start();
      this.reader = reader;
      this.logger.debug({ device: path }, 'panel buttons open');
    }
    this.isReady = true;
    this.emit('connect');
    this.emit('ready');
  }

  private inputPath(): string {
    if (this.opts.pins.input_device !== undefined) {
      if (!existsSync(this.opts.pins.input_device))
        throw new BoardError(
          'PH_ERR_BOARD_NO_KEYS',
          `panel button device ${this.opts.pins.input_device} not found; ${this.hint()}`,
        );
      return this.opts.pins.input_device;
    }
    const name = this.opts.pins.input_name;
    const handler = findInputHandler(readOptional(this.roots.procDevicesFile) ?? '', name);
    const path = handler === undefined ? undefined : join(this.roots.devDir, handler);
    if (path === undefined || !existsSync(path)) {
      throw new BoardError(
        'PH_ERR_BOARD_NO_KEYS',
        `panel buttons not found: no input device "${name}" in ${this.roots.procDevicesFile}` +
          (path === undefined ? '' : ` (${path} missing)`) +
          `; ${this.hint()}`,
      );
    }
    return path;
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

  private led(pin: string | number): [number, LedSlot | undefined] {
    const i = this.normalize(pin);
    return [i, this.leds.get(i)];
  }

  pinMode(pin: string | number, mode: number): this {
    const i = this.normalize(pin);
    const p = this.pins[i] as PinInfo;
    if (!p.supportedModes.includes(mode)) {
      this.logger.warn({ pin: p.name, mode }, 'panel pin mode not supported; ignored');
      return this;
    }
    p.mode = mode;
    return this;
  }

  /** sysfs writes are synchronous and take microseconds; a failure is logged once per LED, never thrown. */
  private write(i: number, slot: LedSlot, file: string, value: string): boolean {
    try {
      writeFileSync(join(slot.dir, file), value);
      return true;
    } catch (e) {
      if (!slot.warned) {
        slot.warned = true;
        this.logger.warn(
          { pin: this.pins[i]?.name, file, err: (e as Error).message },
          'panel LED write failed',
        );
      }
      return false;
    }
  }

  digitalWrite(pin: string | number, value: number): this {
    const [i, slot] = this.led(pin);
    // Key pins: johnny-five writes HIGH to enable a pull-up; the overlay already configures it.
    if (slot === undefined || this.closed) return this;
    if (slot.state === 'blink') this.write(i, slot, 'trigger', 'none');
    const on = value !== 0;
    this.write(i, slot, 'brightness', String(on ? slot.max : 0));
    slot.state = on ? 'on' : 'off';
    delete slot.onMs;
    delete slot.offMs;
    (this.pins[i] as PinInfo).value = on ? 1 : 0;
    return this;
  }

  digitalRead(pin: string | number, handler: (value: number) => void): this {
    const i = this.normalize(pin);
    const p = this.pins[i] as PinInfo;
    const list = this.readers.get(i) ?? [];
    list.push(handler);
    this.readers.set(i, list);
    // The current value once (johnny-five ignores a value equal to its last one).
    process.nextTick(() => {
      if (!this.closed && this.readers.get(i)?.includes(handler)) handler(p.value);
    });
    return this;
  }

  blink(pin: string | number, onMs: number, offMs: number): this {
    const [i, slot] = this.led(pin);
    if (slot === undefined || this.closed) return this;
    const on = Math.max(1, Math.round(onMs));
    const off = Math.max(1, Math.round(offMs));
    // Writing `timer` creates delay_on/delay_off (default 500/500), then the pattern is set.
    if (slot.state !== 'blink') this.write(i, slot, 'trigger', 'timer');
    slot.state = 'blink';
    slot.onMs = on;
    slot.offMs = off;
    this.setDelays(i, slot, on, off, DELAY_RETRIES);
    return this;
  }

  /**
   * The files `timer` just created are root's until udev's change rule hands them to group peerhub
   * (deploy/deb/60-peerhub.rules): a write that comes first is refused, so try again for ~200 ms.
   * The kernel blinks 500/500 meanwhile, and keeps doing so if it never works (logged once).
   */
  private setDelays(i: number, slot: LedSlot, on: number, off: number, left: number): void {
    if (this.closed || slot.state !== 'blink' || slot.onMs !== on || slot.offMs !== off) return;
    try {
      writeFileSync(join(slot.dir, 'delay_on'), String(on));
      writeFileSync(join(slot.dir, 'delay_off'), String(off));
    } catch {
      if (left > 0) {
        setTimeout(() => this.setDelays(i, slot, on, off, left - 1), DELAY_RETRY_MS).unref();
        return;
      }
      if (this.write(i, slot, 'delay_on', String(on))) this.write(i, slot, 'delay_off', String(off));
    }
  }

  stopBlink(pin: string | number): this {
    const [i, slot] = this.led(pin);
    if (slot === undefined) return this;
    // Removing a trigger turns the LED off; brightness 0 says so explicitly.
    this.write(i, slot, 'trigger', 'none');
    this.write(i, slot, 'brightness', '0');
    slot.state = 'off';
    delete slot.onMs;
    delete slot.offMs;
    (this.pins[i] as PinInfo).value = 0;
    return this;
  }

  ledState(pin: string | number): { state: LedState; onMs?: number; offMs?: number } {
    const [, slot] = this.led(pin);
    if (slot === undefined) return { state: 'off' };
    return slot.state === 'blink'
      ? { state: 'blink', onMs: slot.onMs, offMs: slot.offMs }
      : { state: slot.state };
  }

  private report(i: number, value: number): void {
    const p = this.pins[i] as PinInfo;
    if (p.value === value) return;
    p.value = value;
    for (const h of this.readers.get(i) ?? []) {
      try {
        h(value);
      } catch (e) {
        this.logger.error({ pin: p.name, err: (e as Error).message }, 'panel button handler threw');
      }
    }
    this.emit(`digital-read-${i}`, value);
  }

  private onKey(k: KeyEvent): void {
    const i = this.byCode.get(k.code);
    if (i === undefined || this.closed) return;
    // Active-low: released = 1, pressed = 0. Autorepeat means "still down".
    if (k.action === 'release') this.report(i, 1);
    else this.report(i, 0);
  }

  private releaseAll(): void {
    for (const i of this.byCode.values()) this.report(i, 1);
  }

  private onGone(path: string, reason: string): void {
    if (this.closed || this.gone) return;
    this.gone = true;
    this.reader = undefined;
    // A key held when the device vanished must not stay "down" (johnny-five would keep its hold timer).
    this.releaseAll();
    const err = new BoardError('PH_ERR_BOARD_INPUT_GONE', `panel button device ${path} went away: ${reason}`);
    this.logger.warn({ code: err.code, device: path, reason }, 'panel buttons gone');
    this.emit('disconnect', err);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const [i, slot] of this.leds) {
      if (slot.state === 'blink') this.write(i, slot, 'trigger', 'none');
      this.write(i, slot, 'brightness', '0');
      slot.state = 'off';
    }
    this.releaseAll();
    this.closed = true;
    this.isReady = false;
    this.readers.clear();
    const reader = this.reader;
    this.reader = undefined;
    await reader?.close();
    this.emit('close');
  }
}
