/**
 * The panel's pin map: which LED class label and which key code each panel name means, with the
 * defaults of the shipped overlays (board/overlays). Pure: the schema and a validator for the `[panel]`
 * config section; the config loader itself lives in firmware/config.
 *
 * GPIO numbers are decided by the device-tree overlay (its parameters), not by this process: the `gpio`
 * fields here document the wiring and produce the `dtoverlay=` line to add when the overlay is missing.
 */

/** Linux key codes (linux/input-event-codes.h). BTN_* are the default: the console keyboard handler
 * ignores a device with only BTN_* codes, so a button never types into a VT; KEY_* would. */
export const KEY_CODES: Readonly<Record<string, number>> = {
  KEY_ESC: 1,
  KEY_ENTER: 28,
  KEY_SPACE: 57,
  KEY_UP: 103,
  KEY_DOWN: 108,
  KEY_POWER: 116,
  BTN_0: 0x100,
  BTN_1: 0x101,
  BTN_2: 0x102,
  BTN_3: 0x103,
  BTN_4: 0x104,
  BTN_5: 0x105,
  BTN_6: 0x106,
  BTN_7: 0x107,
  BTN_8: 0x108,
  BTN_9: 0x109,
};
export const KEY_MAX = 0x2ff;

export interface LedPin {
  /** Name in /sys/class/leds (the overlay's `label`). */
  label: string;
  /** BCM GPIO number the overlay drives it on (documentation, dtoverlay hint). */
  gpio?: number;
}

export interface KeyPin {
  /** EV_KEY code the overlay's gpio-keys node reports (`linux,code`). */
  code: number;
  gpio?: number;
}

/** The `[panel]` config section, snake_case as in the TOML file. */
export interface PinMap {
  leds: Record<string, LedPin>;
  keys: Record<string, KeyPin>;
  /** Input device name in /proc/bus/input/devices (the gpio-keys node's `label`). */
  input_name: string;
  /** Explicit input device (e.g. /dev/input/by-path/platform-peerhub-keys-event); default: found by name. */
  input_device?: string;
  /** Button hold time (johnny-five `holdtime`), ms. */
  hold_ms: number;
}

export type BoardKind = 'auto' | 'linux' | 'virtual';

export interface PanelConfig extends PinMap {
  /** auto = linux when the overlay's LEDs exist, otherwise virtual. */
  io: BoardKind;
}

export const OVERLAY_PI4 = 'peerhub-pi4';
export const OVERLAY_PI5 = 'peerhub-pi5';
export type OverlayName = typeof OVERLAY_PI4 | typeof OVERLAY_PI5;

/** Defaults of the shipped overlays (the same GPIOs on the Pi 4 and Pi 5 headers). */
export const DEFAULT_PINS: Readonly<PinMap> = Object.freeze({
  leds: {
    invite: { label: 'peerhub:invite', gpio: 17 },
    status: { label: 'peerhub:status', gpio: 27 },
    presence: { label: 'peerhub:presence', gpio: 22 },
  },
  keys: {
    accept: { code: KEY_CODES.BTN_0 as number, gpio: 5 },
    decline: { code: KEY_CODES.BTN_1 as number, gpio: 6 },
  },
  input_name: 'peerhub-keys',
  hold_ms: 1000,
});

export const DEFAULT_PANEL_CONFIG: Readonly<PanelConfig> = Object.freeze({ io: 'auto', ...DEFAULT_PINS });

/** 40-pin header: BCM GPIO → physical pin (identical on Pi 4 and Pi 5). */
export const HEADER_PIN: Readonly<Record<number, number>> = {
  2: 3,
  3: 5,
  4: 7,
  17: 11,
  27: 13,
  22: 15,
  10: 19,
  9: 21,
  11: 23,
  0: 27,
  5: 29,
  6: 31,
  13: 33,
  19: 35,
  26: 37,
  14: 8,
  15: 10,
  18: 12,
  23: 16,
  24: 18,
  25: 22,
  8: 24,
  7: 26,
  1: 28,
  12: 32,
  16: 36,
  20: 38,
  21: 40,
};

/** Pin names are shared by LEDs and keys (johnny-five pins); also the overlay parameter names. */
const NAME = /^[a-z][a-z0-9_]{0,31}$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9:_.+-]{0,63}$/;

/** JSON Schema of the `[panel]` section (for the agent's Ajv config validation). */
export const PanelConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    io: {
      enum: ['auto', 'linux', 'virtual'],
      description: 'IO plugin: auto = linux when the overlay is loaded',
    },
    leds: {
      type: 'object',
      propertyNames: { pattern: NAME.source },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          label: { type: 'string', pattern: LABEL.source, description: 'name under /sys/class/leds' },
          gpio: { type: 'integer', minimum: 2, maximum: 27, description: 'BCM GPIO (set by the overlay)' },
        },
      },
    },
    keys: {
      type: 'object',
      propertyNames: { pattern: NAME.source },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          code: {
            anyOf: [{ type: 'integer', minimum: 1, maximum: KEY_MAX }, { enum: Object.keys(KEY_CODES) }],
            description: 'EV_KEY code (number or name, e.g. "BTN_0")',
          },
          gpio: { type: 'integer', minimum: 2, maximum: 27, description: 'BCM GPIO (set by the overlay)' },
        },
      },
    },
    input_name: { type: 'string', minLength: 1, maxLength: 80, description: 'gpio-keys input device name' },
    input_device: { type: 'string', pattern: '^/', description: 'explicit input device path' },
    hold_ms: { type: 'integer', minimum: 100, maximum: 60000, description: 'button hold time, ms' },
  },
} as const;

export type CheckResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

const isGpio = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 2 && (x as number) <= 27;

/**
 * Validate a `[panel]` section and merge it over the defaults: a default pin keeps the fields not given
 * (`[panel.leds.invite] gpio = 23` keeps its label); a new pin must be complete. Names, labels, codes and
 * GPIOs must be unique. Returns every problem found, not only the first. Top-level keys other than the
 * pin map's (the agent's own panel settings) are left to the caller's schema and not returned.
 */
export function checkPins(
  x: unknown,
  defaults: Readonly<PanelConfig> = DEFAULT_PANEL_CONFIG,
): CheckResult<PanelConfig> {
  const errors: string[] = [];
  if (x === undefined || x === null) x = {};
  if (!isObject(x)) return { ok: false, errors: ['panel: must be a table'] };
  let io = defaults.io;
  if (x.io !== undefined) {
    if (x.io === 'auto' || x.io === 'linux' || x.io === 'virtual') io = x.io;
    else errors.push('panel.io: must be one of auto, linux, virtual');
  }

  const leds: Record<string, LedPin> = {};
  for (const [name, d] of Object.entries(defaults.leds)) leds[name] = { ...d };
  if (x.leds !== undefined) {
    if (!isObject(x.leds)) errors.push('panel.leds: must be a table');
    else
      for (const [name, v] of Object.entries(x.leds)) {
        const at = `panel.leds.${name}`;
        if (!NAME.test(name)) errors.push(`${at}: name must match ${NAME.source}`);
        if (!isObject(v)) {
          errors.push(`${at}: must be a table`);
          continue;
        }
        for (const k of Object.keys(v))
          if (k !== 'label' && k !== 'gpio') errors.push(`${at}.${k}: unknown key`);
        const merged: Partial<LedPin> = { ...leds[name] };
        if (v.label !== undefined) {
          if (typeof v.label === 'string' && LABEL.test(v.label)) merged.label = v.label;
          else errors.push(`${at}.label: must be a LED class name (letters, digits, ":_.+-", at most 64)`);
        }
        if (v.gpio !== undefined) {
          if (isGpio(v.gpio)) merged.gpio = v.gpio;
          else errors.push(`${at}.gpio: must be a header GPIO, 2–27`);
        }
        if (merged.label === undefined) {
          errors.push(`${at}.label: required for a LED the overlay does not define`);
          continue;
        }
        leds[name] = merged as LedPin;
      }
  }

  const keys: Record<string, KeyPin> = {};
  for (const [name, d] of Object.entries(defaults.keys)) keys[name] = { ...d };
  if (x.keys !== undefined) {
    if (!isObject(x.keys)) errors.push('panel.keys: must be a table');
    else
      for (const [name, v] of Object.entries(x.keys)) {
        const at = `panel.keys.${name}`;
        if (!NAME.test(name)) errors.push(`${at}: name must match ${NAME.source}`);
        if (!isObject(v)) {
          errors.push(`${at}: must be a table`);
          continue;
        }
        for (const k of Object.keys(v))
          if (k !== 'code' && k !== 'gpio') errors.push(`${at}.${k}: unknown key`);
        const merged: Partial<KeyPin> = { ...keys[name] };
        if (v.code !== undefined) {
          const code = typeof v.code === 'string' ? KEY_CODES[v.code] : v.code;
          if (Number.isInteger(code) && (code as number) >= 1 && (code as number) <= KEY_MAX)
            merged.code = code as number;
          else
            errors.push(
              `${at}.code: must be a key code 1–${KEY_MAX} or one of ${Object.keys(KEY_CODES).join(', ')}`,
            );
        }
        if (v.gpio !== undefined) {
          if (isGpio(v.gpio)) merged.gpio = v.gpio;
          else errors.push(`${at}.gpio: must be a header GPIO, 2–27`);
        }
        if (merged.code === undefined) {
          errors.push(`${at}.code: required for a button the overlay does not define`);
          continue;
        }
        keys[name] = merged as KeyPin;
      }
  }

  let input_name = defaults.input_name;
  if (x.input_name !== undefined) {
    if (typeof x.input_name === 'string' && x.input_name.length > 0 && x.input_name.length <= 80)
      input_name = x.input_name;
    else errors.push('panel.input_name: must be a non-empty string (at most 80)');
  }
  let input_device = defaults.input_device;
  if (x.input_device !== undefined) {
    if (typeof x.input_device === 'string' && x.input_device.startsWith('/')) input_device = x.input_device;
    else errors.push('panel.input_device: must be an absolute path');
  }
  let hold_ms = defaults.hold_ms;
  if (x.hold_ms !== undefined) {
    if (Number.isInteger(x.hold_ms) && (x.hold_ms as number) >= 100 && (x.hold_ms as number) <= 60000)
      hold_ms = x.hold_ms as number;
    else errors.push('panel.hold_ms: must be an integer 100–60000');
  }

  // One namespace of pin names; each label, code and GPIO used once.
  for (const name of Object.keys(keys))
    if (name in leds) errors.push(`panel: "${name}" is both a LED and a button`);
  const dup = (what: string, pairs: Array<[string, string | number | undefined]>): void => {
    const seen = new Map<string | number, string>();
    for (const [name, v] of pairs) {
      if (v === undefined) continue;
      const other = seen.get(v);
      if (other !== undefined) errors.push(`panel: ${name} and ${other} use the same ${what} (${v})`);
      else seen.set(v, name);
    }
  };
  dup(
    'label',
    Object.entries(leds).map(([n, l]) => [n, l.label]),
  );
  dup(
    'key code',
    Object.entries(keys).map(([n, k]) => [n, k.code]),
  );
  dup('GPIO', [
    ...Object.entries(leds).map(([n, l]): [string, number | undefined] => [n, l.gpio]),
    ...Object.entries(keys).map(([n, k]): [string, number | undefined] => [n, k.gpio]),
  ]);
  if (Object.keys(leds).length + Object.keys(keys).length === 0) errors.push('panel: no pins');

  if (errors.length > 0) return { ok: false, errors };
  const value: PanelConfig = { io, leds, keys, input_name, hold_ms };
  if (input_device !== undefined) value.input_device = input_device;
  return { ok: true, value };
}

/** Which overlay this machine needs, from /proc/device-tree/compatible ("brcm,bcm2712" = Pi 5). */
export function overlayFor(compatible: string | undefined): OverlayName | undefined {
  if (compatible === undefined) return undefined;
  const list = compatible.split('\0');
  if (list.some((c) => c === 'brcm,bcm2712' || c.startsWith('raspberrypi,5'))) return OVERLAY_PI5;
  if (list.some((c) => c === 'brcm,bcm2711' || c.startsWith('raspberrypi,4'))) return OVERLAY_PI4;
  return undefined;
}

/**
 * The config.txt line enabling the overlay for this pin map: parameters only where a default pin's GPIO
 * or key code differs from the overlay's defaults (`dtoverlay=peerhub-pi5,invite_gpio=23`). Pins the
 * overlay does not define (extra LEDs or buttons) need an overlay of their own.
 */
export function dtoverlayLine(overlay: OverlayName, pins: PinMap = DEFAULT_PINS): string {
  const params: string[] = [];
  for (const [name, d] of Object.entries(DEFAULT_PINS.leds)) {
    const g = pins.leds[name]?.gpio;
    if (g !== undefined && g !== d.gpio) params.push(`${name}_gpio=${g}`);
  }
  for (const [name, d] of Object.entries(DEFAULT_PINS.keys)) {
    const k = pins.keys[name];
    if (k?.gpio !== undefined && k.gpio !== d.gpio) params.push(`${name}_gpio=${k.gpio}`);
    if (k !== undefined && k.code !== d.code) params.push(`${name}_code=${k.code}`);
  }
  return ['dtoverlay=' + overlay, ...params].join(',');
}

/** "add `dtoverlay=peerhub-pi5` to /boot/firmware/config.txt" — or both lines when the model is unknown. */
export function overlayHint(overlay: OverlayName | undefined, pins: PinMap = DEFAULT_PINS): string {
  const where = '/boot/firmware/config.txt and reboot';
  if (overlay !== undefined)
    return `enable the ${overlay} device-tree overlay: add "${dtoverlayLine(overlay, pins)}" to ${where}`;
  return (
    `enable the peerhub device-tree overlay: add "${dtoverlayLine(OVERLAY_PI5, pins)}" (Pi 5) or ` +
    `"${dtoverlayLine(OVERLAY_PI4, pins)}" (Pi 4) to ${where}`
  );
}
