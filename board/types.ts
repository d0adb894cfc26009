/**
 * The contract of the hardware seam: what an IO plugin offers beyond the johnny-five IO-plugin spec,
 * and the logger it takes. Both plugins (linux, virtual) implement `PanelIO`.
 */
import type { EventEmitter } from 'node:events';

/** Structurally the agent's logger (pino child); board/ only needs these four levels. */
export interface BoardLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentBoardLogger: BoardLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** johnny-five's pin modes (lib/board.pins.js). */
export const MODES = { INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4 } as const;

export interface PinInfo {
  /** The panel name (`invite`, `accept`…). */
  name: string;
  kind: 'led' | 'key';
  supportedModes: number[];
  mode: number;
  value: number;
  report: number;
  analogChannel: number;
}

/** The johnny-five pin table both IO plugins expose: LEDs first (outputs), then keys (inputs, released). */
export function pinTable(pins: { leds: object; keys: object }): PinInfo[] {
  const pin = (name: string, kind: 'led' | 'key'): PinInfo => ({
    name,
    kind,
    supportedModes: kind === 'led' ? [MODES.OUTPUT] : [MODES.INPUT],
    mode: kind === 'led' ? MODES.OUTPUT : MODES.INPUT,
    value: kind === 'led' ? 0 : 1,
    report: kind === 'led' ? 0 : 1,
    analogChannel: 127,
  });
  return [
    ...Object.keys(pins.leds).map((n) => pin(n, 'led')),
    ...Object.keys(pins.keys).map((n) => pin(n, 'key')),
  ];
}

export type LedState = 'off' | 'on' | 'blink';

/**
 * An IO plugin for johnny-five (EventEmitter, `isReady`, `MODES`, `pins`, `normalize`, `pinMode`,
 * `digitalWrite`, `digitalRead`, 'connect' + 'ready') plus the hardware blink extension.
 * Events: 'connect', 'ready', 'disconnect' (BoardError, once, when the button device goes away), 'close'.
 */
export interface PanelIO extends EventEmitter {
  readonly name: string;
  readonly isReady: boolean;
  readonly HIGH: 1;
  readonly LOW: 0;
  readonly MODES: typeof MODES;
  readonly pins: PinInfo[];
  readonly analogPins: number[];
  /** Blink without a timer in this process (kernel `timer` trigger, or recorded by the virtual IO). */
  readonly hasHardwareBlink: true;
  open(): Promise<void>;
  normalize(pin: string | number): number;
  pinMode(pin: string | number, mode: number): this;
  digitalWrite(pin: string | number, value: number): this;
  digitalRead(pin: string | number, handler: (value: number) => void): this;
  blink(pin: string | number, onMs: number, offMs: number): this;
  stopBlink(pin: string | number): this;
  /** Current pattern of an LED as this process set it. */
  ledState(pin: string | number): { state: LedState; onMs?: number; offMs?: number };
  /** Release handles, stop triggers, leave LEDs off. Idempotent. */
  close(): Promise<void>;
}
