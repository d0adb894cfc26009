/**
 * The johnny-five board (board/board.ts) as the panel sees it: LED patterns become `Led.on/off` or the
 * IO's hardware blink (kernel timer trigger: no wake-ups here), and `Button` press/hold/release become
 * short or long presses. On the virtual board a press from the control API goes through the same
 * Button components (`simulate`), so the remote test exercises the real path.
 */
import type { OpenedBoard } from '../../board/board.js';
import type { ButtonName, LedName, Pattern } from './machine.js';
import type { PanelBoard } from './panel.js';

export interface DrivenBoard extends PanelBoard {
  /** Virtual board only: press (and for a long press hold past the hold time), then release. */
  simulate?(button: ButtonName, long: boolean): Promise<void>;
}

export function driveBoard(opened: OpenedBoard, holdMs: number): DrivenBoard {
  const { io, leds, buttons } = opened;
  const pressed = new Map<string, boolean>();
  const listeners: Array<(b: ButtonName, long: boolean) => void> = [];
  for (const [name, button] of Object.entries(buttons)) {
    if (name !== 'accept' && name !== 'decline') continue;
    let held = false;
    button.on('press', () => {
      pressed.set(name, true);
      held = false;
    });
    button.on('hold', () => {
      if (held) return; // johnny-five repeats 'hold' while the button stays down
      held = true;
      for (const fn of listeners) fn(name, true);
    });
    button.on('release', () => {
      pressed.set(name, false);
      if (!held) for (const fn of listeners) fn(name, false);
      held = false;
    });
  }
  const driven: DrivenBoard = {
    kind: opened.kind,
    show(led: LedName, p: Pattern) {
      const l = leds[led];
      if (!l) return; // a panel without this LED
      if (io.ledState(led).state === 'blink') io.stopBlink(led);
      if (p.state === 'blink') io.blink(led, p.onMs, p.offMs);
      else if (p.state === 'on') l.on();
      else l.off();
    },
    onButton(fn) {
      listeners.push(fn);
    },
    buttons: () =>
      (['accept', 'decline'] as const)
        .filter((b) => buttons[b])
        .map((name) => ({ name, pressed: pressed.get(name) ?? false })),
    close: () => opened.close(),
  };
  if (opened.kind === 'virtual') {
    const vio = opened.io;
    // A click is held a few tens of ms (johnny-five debounces); a long press past the hold time.
    driven.simulate = (button, long) => vio.press(button, { holdMs: long ? holdMs + 200 : 40 });
  }
  return driven;
}
