/**
 * The panel hardware as johnny-five components: `openBoard()` picks an IO plugin (linux on a hub with
 * the overlay loaded, virtual elsewhere), creates the Board and one `Led` / `Button` per pin, and gives
 * back a handle whose `close()` leaves nothing running (no blink or hold timers, no open devices).
 */
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import type Five from 'johnny-five';
import { BoardError } from './errors.js';
import type { RecordSize } from './input-event.js';
import { LinuxIO, LINUX_ROOTS, linuxLedsPresent, type LinuxRoots } from './io/linux.js';
import { VirtualIO } from './io/virtual.js';
import { DEFAULT_PINS, overlayFor, overlayHint, type BoardKind, type PinMap } from './pins.js';
import { silentBoardLogger, type BoardLogger, type PanelIO } from './types.js';

// johnny-five's index loads every component it has (motors, sensors, LCDs… ≈ 68 modules); the
// panel needs three classes, and loading only them keeps ≈ 3.5 MB off an idle hub's RSS.
const load = createRequire(import.meta.url);
// board.js requires johnny-five's REPL wrapper, which loads node:repl, which loads node:domain: from then
// on every EventEmitter and every async operation of the process goes through domain's hooks (a
// promise + EventEmitter loop runs ≈ 1.7× slower; 'node:domain' was ≈ 20 % of the agents' CPU in a
// profile of invitation round trips). The panel opens boards with `repl: false`, so a stand-in that
// refuses to be constructed takes its place before board.js is loaded.
const replPath = load.resolve('johnny-five/lib/repl.js');
if (!load.cache[replPath]) {
  const standIn = new Module(replPath);
  standIn.filename = replPath;
  standIn.loaded = true;
  standIn.exports = class NoRepl {
    constructor() {
      throw new Error('johnny-five REPL is disabled on a hub (Board needs repl: false)');
    }
  };
  load.cache[replPath] = standIn;
}
const five = {
  Board: load('johnny-five/lib/board.js') as typeof Five.Board,
  Led: load('johnny-five/lib/led/led.js') as typeof Five.Led,
  Button: load('johnny-five/lib/button.js') as typeof Five.Button,
};

export interface OpenBoardOptions {
  kind: BoardKind;
  pins?: PinMap;
  logger?: BoardLogger;
  /** Test roots for the linux plugin (fake sysfs tree, FIFO, /proc files). */
  roots?: Partial<LinuxRoots>;
  /** Button hold time, ms (default: pins.hold_ms, 1000). */
  holdMs?: number;
  /** How long to wait for the Board's 'ready' (default 5 s). */
  readyTimeoutMs?: number;
  /** input_event size (default from the process architecture: 24 on arm64, 16 on 32-bit). */
  recordSize?: RecordSize;
}

export type OpenedBoard = {
  board: Five.Board;
  leds: Record<string, Five.Led>;
  buttons: Record<string, Five.Button>;
  /** Stop blinks, turn LEDs off, remove button listeners, close the IO. Idempotent; resolves promptly. */
  close(): Promise<void>;
} & ({ kind: 'linux'; io: LinuxIO } | { kind: 'virtual'; io: VirtualIO });

function resolveKind(
  kind: BoardKind,
  pins: PinMap,
  roots: LinuxRoots,
  logger: BoardLogger,
): 'linux' | 'virtual' {
  if (kind !== 'auto') return kind;
  if (linuxLedsPresent(pins, roots.ledsDir)) return 'linux';
  let compatible: string | undefined;
  try {
    compatible = readFileSync(roots.compatibleFile, 'utf8');
  } catch {
    compatible = undefined;
  }
  const overlay = overlayFor(compatible);
  if (overlay !== undefined) {
    // A Raspberry Pi without the overlay: say how to get a real panel.
    logger.info(
      { io: 'virtual' },
      `no panel LEDs found; using the virtual panel (${overlayHint(overlay, pins)})`,
    );
  } else logger.debug({ io: 'virtual' }, 'no hub hardware found; using the virtual panel');
  return 'virtual';
}

export async function openBoard(opts: OpenBoardOptions): Promise<OpenedBoard> {
  const pins = opts.pins ?? DEFAULT_PINS;
  const logger = opts.logger ?? silentBoardLogger;
  const roots: LinuxRoots = { ...LINUX_ROOTS, ...opts.roots };
  const kind = resolveKind(opts.kind, pins, roots, logger);
  const io =
    kind === 'linux'
      ? new LinuxIO({ pins, roots, logger, recordSize: opts.recordSize })
      : new VirtualIO(pins);
  // Errors (missing overlay, permissions) surface here, before johnny-five is involved.
  await io.open();

  const board = new five.Board({ io, repl: false, debug: false, sigint: false });
  // johnny-five re-emits the IO's 'error' on the Board: without a listener that would throw.
  board.on('error', (e: unknown) =>
    logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'panel board error'),
  );
  try {
    await waitReady(board, opts.readyTimeoutMs ?? 5000);
  } catch (e) {
    await io.close();
    throw e;
  }

  const leds: Record<string, Five.Led> = {};
  for (const name of Object.keys(pins.leds)) leds[name] = new five.Led({ pin: name, board });
  const buttons: Record<string, Five.Button> = {};
  const holdtime = opts.holdMs ?? pins.hold_ms;
  for (const name of Object.keys(pins.keys)) {
    buttons[name] = new five.Button({ pin: name, board, isPullup: true, holdtime });
  }
  logger.info(
    { io: kind, leds: Object.keys(leds), buttons: Object.keys(buttons) },
    kind === 'linux' ? 'panel hardware open' : 'virtual panel open',
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const b of Object.values(buttons)) b.removeAllListeners();
      for (const [name, led] of Object.entries(leds)) {
        led.stop();
        if (io.ledState(name).state === 'blink') io.stopBlink(name);
        led.off();
      }
      // Reports held buttons as released (johnny-five then clears its hold timers), closes the devices.
      await io.close();
      board.removeAllListeners();
    })();
    return closing;
  };

  return kind === 'linux'
    ? { kind, io: io as LinuxIO, board, leds, buttons, close }
    : { kind, io: io as VirtualIO, board, leds, buttons, close };
}

/** The Board's own 'ready' (not `isReady`: johnny-five copies that from the IO at construction, before it
 * has wired the IO's 'disconnect'/'error' to the Board). */
function waitReady(board: Five.Board, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      board.off('ready', onReady);
      reject(new BoardError('PH_ERR_BOARD_NOT_READY', `the panel board was not ready within ${ms} ms`));
    }, ms);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    board.once('ready', onReady);
  });
}

export type { PanelIO };
