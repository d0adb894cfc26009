import t from 'tap';
import five from 'johnny-five';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isBoardError } from '../../../board/errors.js';
import { encodeKeyFrame } from '../../../board/input-event.js';
import { LinuxIO } from '../../../board/io/linux.js';
import { checkPins, DEFAULT_PINS } from '../../../board/pins.js';
import { fakeHub, next, openWriter, PI4_COMPATIBLE, PI5_COMPATIBLE, sleep } from './fixtures/hub.js';
import { until } from '../wait.js';

const BTN_0 = 0x100;
const BTN_1 = 0x101;

t.test('LEDs: brightness follows max_brightness; blink hands the pattern to the timer trigger', async (t) => {
  const hub = fakeHub(t.testdir(), { maxBrightness: { 'peerhub:status': 255 }, keys: false });
  const io = new LinuxIO({ pins: { ...DEFAULT_PINS, keys: {} }, roots: hub.roots });
  t.teardown(() => io.close());
  let ready = 0;
  io.on('ready', () => ready++);
  await io.open();
  t.equal(ready, 1, "'ready' after the devices are open");
  t.ok(io.isReady);

  io.digitalWrite('invite', 1);
  io.digitalWrite('status', 1);
  t.equal(hub.led('peerhub:invite', 'brightness'), '1', 'on = max_brightness (1)');
  t.equal(hub.led('peerhub:status', 'brightness'), '255', 'on = max_brightness (255)');
  io.digitalWrite(io.normalize('status'), 0);
  t.equal(hub.led('peerhub:status', 'brightness'), '0', 'by index too');

  io.blink('presence', 200, 800);
  t.equal(hub.led('peerhub:presence', 'trigger'), 'timer');
  t.equal(hub.led('peerhub:presence', 'delay_on'), '200');
  t.equal(hub.led('peerhub:presence', 'delay_off'), '800');
  t.same(io.ledState('presence'), { state: 'blink', onMs: 200, offMs: 800 });

  io.stopBlink('presence');
  t.equal(hub.led('peerhub:presence', 'trigger'), 'none', 'stopBlink removes the trigger');
  t.equal(hub.led('peerhub:presence', 'brightness'), '0', 'and leaves the LED off');
  t.same(io.ledState('presence'), { state: 'off' });

  io.blink('invite', 100, 100);
  io.digitalWrite('invite', 1);
  t.equal(hub.led('peerhub:invite', 'trigger'), 'none', 'a steady write ends a blink first');
  t.equal(hub.led('peerhub:invite', 'brightness'), '1');

  io.blink('status', 500, 500);
  await io.close();
  t.equal(hub.led('peerhub:status', 'trigger'), 'none', 'close stops triggers');
  for (const l of ['peerhub:invite', 'peerhub:status', 'peerhub:presence'])
    t.equal(hub.led(l, 'brightness'), '0', `close leaves ${l} off`);
  io.digitalWrite('invite', 1);
  t.equal(hub.led('peerhub:invite', 'brightness'), '0', 'writes after close are ignored');
});

t.test('blink: delay files refused at first (udev not done yet) are written once they can be', async (t) => {
  const hub = fakeHub(t.testdir(), { keys: false });
  const io = new LinuxIO({ pins: { ...DEFAULT_PINS, keys: {} }, roots: hub.roots });
  t.teardown(() => io.close());
  await io.open();
  // Stand-in for the root-owned files the timer trigger creates: a write to a directory fails.
  const dir = join(hub.roots.ledsDir, 'peerhub:invite');
  mkdirSync(join(dir, 'delay_on'));
  io.blink('invite', 120, 880);
  t.equal(hub.led('peerhub:invite', 'trigger'), 'timer', 'the kernel blinks at once');
  rmSync(join(dir, 'delay_on'), { recursive: true });
  await until('delays written', () =>
    existsSync(join(dir, 'delay_off')) ? hub.led('peerhub:invite', 'delay_off') : undefined,
  );
  t.equal(hub.led('peerhub:invite', 'delay_on'), '120');
  t.equal(hub.led('peerhub:invite', 'delay_off'), '880');
  t.same(io.ledState('invite'), { state: 'blink', onMs: 120, offMs: 880 });
});

t.test('johnny-five Led drives the sysfs LED through the plugin', async (t) => {
  const hub = fakeHub(t.testdir(), { keys: false });
  const io = new LinuxIO({ pins: { ...DEFAULT_PINS, keys: {} }, roots: hub.roots });
  await io.open();
  const board = new five.Board({ io, repl: false, debug: false, sigint: false });
  await next(board, 'ready');
  const led = new five.Led({ pin: 'invite', board });
  led.on();
  t.equal(hub.led('peerhub:invite', 'brightness'), '1');
  led.off();
  t.equal(hub.led('peerhub:invite', 'brightness'), '0');
  await io.close();
});

t.test('missing LED class device: the error names the overlay and the dtoverlay line', async (t) => {
  for (const [compatible, want] of [
    [PI5_COMPATIBLE, 'dtoverlay=peerhub-pi5'],
    [PI4_COMPATIBLE, 'dtoverlay=peerhub-pi4'],
  ] as const) {
    const hub = fakeHub(t.testdir(), { labels: ['peerhub:invite'], compatible });
    const io = new LinuxIO({ pins: DEFAULT_PINS, roots: hub.roots });
    const err = await io.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(isBoardError(err, 'PH_ERR_BOARD_NO_LEDS'), 'PH_ERR_BOARD_NO_LEDS');
    const msg = (err as Error).message;
    t.match(msg, 'status', 'names the missing LED');
    t.match(msg, 'peerhub:presence');
    t.notMatch(msg, 'invite (', 'not the one present');
    t.match(msg, want, `names ${want}`);
    t.notOk(io.isReady);
  }
  // Unknown model: both lines; changed pins become overlay parameters.
  const hub = fakeHub(t.testdir(), { labels: [] });
  const r = checkPins({ leds: { invite: { gpio: 23 } } });
  if (!r.ok) throw new Error(r.errors.join('; '));
  const err = (await new LinuxIO({ pins: r.value, roots: hub.roots })
    .open()
    .catch((e: unknown) => e)) as Error;
  t.match(err.message, '"dtoverlay=peerhub-pi5,invite_gpio=23" (Pi 5)');
  t.match(err.message, '"dtoverlay=peerhub-pi4,invite_gpio=23" (Pi 4)');
});

t.test('missing input device: the error names the overlay', async (t) => {
  const hub = fakeHub(t.testdir(), { keys: false, compatible: PI5_COMPATIBLE });
  const err = await new LinuxIO({ pins: DEFAULT_PINS, roots: hub.roots }).open().catch((e: unknown) => e);
  t.ok(isBoardError(err, 'PH_ERR_BOARD_NO_KEYS'));
  t.match((err as Error).message, 'no input device "peerhub-keys"');
  t.match((err as Error).message, 'dtoverlay=peerhub-pi5');

  const hub2 = fakeHub(t.testdir(), { compatible: PI4_COMPATIBLE });
  const err2 = await new LinuxIO({
    pins: { ...DEFAULT_PINS, input_device: hub2.roots.devDir + '/by-path/nothing' },
    roots: hub2.roots,
  })
    .open()
    .catch((e: unknown) => e);
  t.ok(isBoardError(err2, 'PH_ERR_BOARD_NO_KEYS'), 'an explicit device that does not exist');
  t.match((err2 as Error).message, 'dtoverlay=peerhub-pi4');
});

t.test('buttons: real input_event records through a FIFO drive johnny-five Button events', async (t) => {
  const hub = fakeHub(t.testdir());
  const io = new LinuxIO({ pins: DEFAULT_PINS, roots: hub.roots });
  t.teardown(() => io.close());
  await io.open();
  const writer = await openWriter(hub.fifo);
  t.teardown(() => writer.close());
  const board = new five.Board({ io, repl: false, debug: false, sigint: false });
  await next(board, 'ready');
  const accept = new five.Button({ pin: 'accept', board, isPullup: true, holdtime: 100 });
  const decline = new five.Button({ pin: 'decline', board, isPullup: true, holdtime: 100 });
  const seen: string[] = [];
  for (const [name, b] of [
    ['accept', accept],
    ['decline', decline],
  ] as const)
    for (const ev of ['press', 'release', 'hold'] as const) b.on(ev, () => seen.push(`${name}:${ev}`));

  // A press whose records arrive split mid-record, and an unrelated key code.
  const press = Buffer.concat([encodeKeyFrame(0x2ff, 1), encodeKeyFrame(BTN_0, 1)]);
  await writer.write(press.subarray(0, 31));
  await sleep(20);
  await writer.write(press.subarray(31));
  await next(accept, 'press');
  t.ok(accept.isDown, 'accept is down');
  // Autorepeat records keep it down; johnny-five's own timer reports holds.
  await writer.write(encodeKeyFrame(BTN_0, 2));
  await next(accept, 'hold');
  await next(accept, 'hold');
  await writer.write(encodeKeyFrame(BTN_0, 0));
  await next(accept, 'release');
  t.notOk(accept.isDown);

  // A short click on decline.
  await writer.write(encodeKeyFrame(BTN_1, 1));
  await sleep(30);
  await writer.write(encodeKeyFrame(BTN_1, 0));
  await next(decline, 'release');

  const holds = seen.filter((s) => s === 'accept:hold').length;
  t.ok(holds >= 2, `accept held: ${holds} hold events`);
  t.same(
    seen.filter((s) => !s.endsWith(':hold')),
    ['accept:press', 'accept:release', 'decline:press', 'decline:release'],
    'one press and one release each, in order',
  );
  t.notOk(seen.includes('decline:hold'), 'a click is no hold');
});

t.test('the device disappears: one disconnect, held keys released, no crash', async (t) => {
  const hub = fakeHub(t.testdir());
  const io = new LinuxIO({ pins: DEFAULT_PINS, roots: hub.roots });
  t.teardown(() => io.close());
  await io.open();
  const writer = await openWriter(hub.fifo);
  const board = new five.Board({ io, repl: false, debug: false, sigint: false });
  await next(board, 'ready');
  const accept = new five.Button({ pin: 'accept', board, isPullup: true, holdtime: 50 });
  const boardEvents: unknown[] = [];
  board.on('disconnect', (e: unknown) => boardEvents.push(e));
  const ioEvents: unknown[] = [];
  io.on('disconnect', (e: unknown) => ioEvents.push(e));

  await writer.write(encodeKeyFrame(BTN_0, 1));
  await next(accept, 'press');
  // A partial record, then the writer goes away (EOF: what a removed device looks like through the FIFO).
  await writer.write(Buffer.alloc(5));
  const released = next(accept, 'release');
  // Listen before closing: on a loaded machine the reader's exit can be handled before the close resolves.
  const gone = next<[Error]>(io, 'disconnect');
  await writer.close();
  const [err] = await gone;
  await released;
  t.ok(isBoardError(err, 'PH_ERR_BOARD_INPUT_GONE'), 'a BoardError');
  t.match(err.message, hub.fifo, 'naming the device');
  t.match(err.message, '5 bytes of a partial record dropped');
  await sleep(100);
  t.equal(ioEvents.length, 1, 'exactly one disconnect');
  t.equal(boardEvents.length, 1, 'johnny-five forwards it to the Board');
  t.notOk(accept.isDown, 'the held key was released');
  // LEDs keep working without the buttons.
  io.digitalWrite('invite', 1);
  t.equal(hub.led('peerhub:invite', 'brightness'), '1');
});

t.test('close is prompt while the device is open and idle (no pending read to wait for)', async (t) => {
  const hub = fakeHub(t.testdir());
  const io = new LinuxIO({ pins: DEFAULT_PINS, roots: hub.roots });
  await io.open();
  const writer = await openWriter(hub.fifo);
  t.teardown(() => writer.close());
  let disconnects = 0;
  io.on('disconnect', () => disconnects++);
  const started = Date.now();
  await io.close();
  t.ok(Date.now() - started < 5000, 'closed');
  await t.rejects(writer.write(encodeKeyFrame(BTN_0, 1)), { code: 'EPIPE' }, 'the device is no longer open');
  await sleep(50);
  t.equal(disconnects, 0, 'a close is not a disconnect');
  await io.close();
  t.pass('close is idempotent');
});

t.test('pin names, indexes and unknown pins', async (t) => {
  const hub = fakeHub(t.testdir(), { keys: false });
  const io = new LinuxIO({ pins: { ...DEFAULT_PINS, keys: {} }, roots: hub.roots });
  t.same(
    io.pins.map((p) => [p.name, p.supportedModes]),
    [
      ['invite', [1]],
      ['status', [1]],
      ['presence', [1]],
    ],
  );
  t.equal(io.normalize('presence'), 2);
  t.equal(io.normalize('1'), 1);
  t.throws(() => io.normalize('nope'), { code: 'PH_ERR_BOARD_PIN_UNKNOWN' });
  t.throws(() => io.normalize(7), { code: 'PH_ERR_BOARD_PIN_UNKNOWN' });
});
