import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openBoard } from '../../../board/board.js';
import { isBoardError } from '../../../board/errors.js';
import { encodeKeyFrame } from '../../../board/input-event.js';
import { DEFAULT_PINS } from '../../../board/pins.js';
import { fakeHub, next, openWriter, PI5_COMPATIBLE } from './fixtures/hub.js';

t.test('auto without the overlay: the virtual panel, with a hint on a Raspberry Pi', async (t) => {
  const hub = fakeHub(t.testdir(), { labels: [], keys: false, compatible: PI5_COMPATIBLE });
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const rec = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  const logger = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
  const h = await openBoard({ kind: 'auto', roots: hub.roots, logger });
  t.teardown(() => h.close());
  t.equal(h.kind, 'virtual');
  if (h.kind !== 'virtual') return;
  t.ok(h.board.isReady);
  t.same(Object.keys(h.leds), ['invite', 'status', 'presence']);
  t.same(Object.keys(h.buttons), ['accept', 'decline']);
  t.ok(
    lines.some((l) => l.level === 'info' && l.msg?.includes('dtoverlay=peerhub-pi5')),
    'tells how to enable the hardware panel',
  );

  // The components work through the virtual IO, and the control API's view follows.
  h.leds.presence?.on();
  t.equal(h.io.snapshot().leds[2]?.state, 'on');
  const pressed = next(h.buttons.decline as NodeJS.EventEmitter, 'press');
  await h.io.press('decline', { holdMs: 20 });
  await pressed;
});

t.test('auto with the LED class devices present: the linux plugin', async (t) => {
  const hub = fakeHub(t.testdir(), { compatible: PI5_COMPATIBLE });
  const h = await openBoard({ kind: 'auto', roots: hub.roots, holdMs: 200 });
  t.teardown(() => h.close());
  t.equal(h.kind, 'linux');
  t.equal(h.buttons.accept?.holdtime, 200, 'holdtime configurable');
  const writer = await openWriter(hub.fifo);
  t.teardown(() => writer.close());
  const press = next(h.buttons.accept as NodeJS.EventEmitter, 'press');
  await writer.write(encodeKeyFrame(0x100, 1));
  await press;
  h.leds.invite?.on();
  t.equal(hub.led('peerhub:invite', 'brightness'), '1');
  h.io.blink('status', 300, 700);
  t.equal(hub.led('peerhub:status', 'trigger'), 'timer');
  await h.close();
  t.equal(hub.led('peerhub:status', 'trigger'), 'none', 'close stops the blink');
  t.equal(hub.led('peerhub:invite', 'brightness'), '0', 'close turns LEDs off');
  await h.close();
  t.pass('close twice');
});

t.test('linux requested where the overlay is missing: a clear error naming the overlay', async (t) => {
  const hub = fakeHub(t.testdir(), { labels: [], keys: false, compatible: PI5_COMPATIBLE });
  const err = await openBoard({ kind: 'linux', roots: hub.roots }).catch((e: unknown) => e);
  t.ok(isBoardError(err, 'PH_ERR_BOARD_NO_LEDS'));
  t.match((err as Error).message, 'dtoverlay=peerhub-pi5');
});

const child = fileURLToPath(new URL('./fixtures/close-child.ts', import.meta.url));
// The TypeScript loader this test runs under, without tap's coverage hooks.
const execArgv = process.execArgv.filter((a) => a.includes('typescript') || a === '--enable-source-maps');

function runChild(args: string[]): Promise<{ code: number | null; out: string; killed: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...execArgv, child, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let killed = false;
    p.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    // Generous: the child compiles TypeScript on start. A lingering handle would keep it alive for ever.
    const deadline = setTimeout(() => {
      killed = true;
      p.kill('SIGKILL');
    }, 60_000);
    p.on('close', (code) => {
      clearTimeout(deadline);
      resolve({ code, out, killed });
    });
  });
}

for (const kind of ['virtual', 'linux'] as const) {
  t.test(`${kind}: after close() the process exits by itself (no lingering timers or handles)`, async (t) => {
    const args: string[] = [kind];
    if (kind === 'linux') {
      const hub = fakeHub(t.testdir());
      args.push(JSON.stringify(hub.roots));
      // Keep the FIFO's writer open and idle: a blocked read must not hold the child.
      const w = openWriter(hub.fifo, 60_000);
      t.teardown(async () => (await w).close());
    }
    const r = await runChild(args);
    t.notOk(r.killed, 'exited before the deadline');
    t.equal(r.code, 0);
    t.match(r.out, `{"kind":"${kind}","closed":true}`);
    const ms = Number(/exit (\d+)/.exec(r.out)?.[1]);
    t.ok(ms < 2000, `exited ${ms} ms after close resolved`);
  });
}

t.test('pins default to the overlay defaults', async (t) => {
  const h = await openBoard({ kind: 'virtual' });
  t.same(
    h.io.pins.map((p) => p.name),
    [...Object.keys(DEFAULT_PINS.leds), ...Object.keys(DEFAULT_PINS.keys)],
  );
  t.equal(h.buttons.accept?.holdtime, 1000);
  await h.close();
});
