import t from 'tap';
import five from 'johnny-five';
import { VirtualIO, type VirtualChange } from '../../../board/io/virtual.js';
import { DEFAULT_PINS } from '../../../board/pins.js';
import { next } from './fixtures/hub.js';

async function virtualBoard() {
  const io = new VirtualIO(DEFAULT_PINS);
  await io.open();
  const board = new five.Board({ io, repl: false, debug: false, sigint: false });
  await next(board, 'ready');
  return { io, board };
}

t.test('snapshot shows LED writes and blink patterns; no timers involved', async (t) => {
  const { io, board } = await virtualBoard();
  t.teardown(() => io.close());
  const changes: VirtualChange[] = [];
  io.on('change', (c: VirtualChange) => changes.push(c));
  t.same(io.snapshot(), {
    leds: [
      { name: 'invite', state: 'off' },
      { name: 'status', state: 'off' },
      { name: 'presence', state: 'off' },
    ],
    buttons: [
      { name: 'accept', pressed: false },
      { name: 'decline', pressed: false },
    ],
  });
  new five.Led({ pin: 'status', board }).on();
  io.blink('invite', 250, 750.4);
  t.same(io.snapshot().leds, [
    { name: 'invite', state: 'blink', onMs: 250, offMs: 750 },
    { name: 'status', state: 'on' },
    { name: 'presence', state: 'off' },
  ]);
  io.stopBlink('invite');
  t.same(io.ledState('invite'), { state: 'off' });
  t.same(changes, [
    { kind: 'led', name: 'status', state: 'on' },
    { kind: 'led', name: 'invite', state: 'blink', onMs: 250, offMs: 750 },
    { kind: 'led', name: 'invite', state: 'off' },
  ]);
  await io.close();
  t.same(
    io.snapshot().leds.map((l) => l.state),
    ['off', 'off', 'off'],
    'close leaves LEDs off',
  );
});

t.test('press/release drive a johnny-five Button (press, hold, release)', async (t) => {
  const { io, board } = await virtualBoard();
  t.teardown(() => io.close());
  const accept = new five.Button({ pin: 'accept', board, isPullup: true, holdtime: 50 });
  const seen: string[] = [];
  for (const ev of ['press', 'release', 'hold'] as const) accept.on(ev, () => seen.push(ev));

  const released = next(accept, 'release');
  const held = io.press('accept', { holdMs: 300 });
  await next(accept, 'press');
  t.same(io.snapshot().buttons[0], { name: 'accept', pressed: true });
  await held;
  await released;
  t.same(io.snapshot().buttons[0], { name: 'accept', pressed: false });
  t.ok(seen.filter((s) => s === 'hold').length >= 2, 'held long enough for holds');
  t.same(
    seen.filter((s) => s !== 'hold'),
    ['press', 'release'],
  );

  // Pressed until released.
  await io.press('decline');
  t.same(io.snapshot().buttons[1], { name: 'decline', pressed: true });
  io.release('decline');
  t.same(io.snapshot().buttons[1], { name: 'decline', pressed: false });
});

t.test('unknown pins and LEDs are refused by press', async (t) => {
  const io = new VirtualIO(DEFAULT_PINS);
  await io.open();
  t.throws(() => io.press('nope'), { code: 'PH_ERR_BOARD_PIN_UNKNOWN', statusCode: 404 });
  t.throws(() => io.press('invite'), { code: 'PH_ERR_BOARD_PIN_UNKNOWN' });
  t.throws(() => io.release('nope'), { code: 'PH_ERR_BOARD_PIN_UNKNOWN' });
  await io.close();
  await t.rejects(io.press('accept'), { code: 'PH_ERR_BOARD_NOT_READY' }, 'closed');
});

t.test('close releases a held button (no lingering hold timer)', async (t) => {
  const { io, board } = await virtualBoard();
  const accept = new five.Button({ pin: 'accept', board, isPullup: true, holdtime: 20 });
  const released = next(accept, 'release');
  void io.press('accept', { holdMs: 60_000 });
  await next(accept, 'press');
  await io.close();
  await released;
  t.notOk(accept.isDown);
});
