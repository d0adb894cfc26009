import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ManualClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import {
  createSdNotifier,
  spawnNotify,
  statusLine,
  watchdogInterval,
  type NotifySpawn,
} from '../../../firmware/core/sd-notify.js';

/** A spawner that records each call and finishes it only when the test says so. */
function fakeSpawn(): {
  spawn: NotifySpawn;
  calls: Array<{ file: string; args: string[] }>;
  finish(err?: Error | null, code?: number): void;
  running: number;
} {
  const queue: Array<(err: Error | null, code: number | null, stderr: string) => void> = [];
  const calls: Array<{ file: string; args: string[] }> = [];
  return {
    calls,
    spawn: (file, args, done) => {
      calls.push({ file, args });
      queue.push(done);
    },
    finish(err = null, code = 0) {
      queue.shift()?.(err, err ? null : code, err ? '' : 'boom');
    },
    get running() {
      return queue.length;
    },
  };
}

const SOCK = { NOTIFY_SOCKET: '/run/systemd/notify' };

t.test('not under systemd: nothing is ever spawned', async (t) => {
  const f = fakeSpawn();
  const clock = new ManualClock();
  const n = createSdNotifier({
    logger: silentLogger(),
    env: { WATCHDOG_USEC: '30000000' },
    clock,
    spawn: f.spawn,
  });
  t.equal(n.enabled, false);
  t.equal(n.watchdogIntervalMs, null);
  n.ready('ready');
  n.startWatchdog();
  clock.advance(120_000);
  n.stopping();
  await n.close();
  t.same(f.calls, []);
  t.equal(clock.pending, 0);
});

t.test('READY with a status line, then STOPPING: arguments and order', async (t) => {
  const f = fakeSpawn();
  const n = createSdNotifier({ logger: silentLogger(), env: SOCK, spawn: f.spawn, binary: '/x/notify' });
  t.equal(n.enabled, true);
  n.ready('ready: peer ABC\nsecond line');
  t.same(f.calls, [{ file: '/x/notify', args: ['READY=1', 'STATUS=ready: peer ABC second line'] }]);
  // Asked while the first child runs: merged into one next message, sent after it finishes.
  n.status('one');
  n.stopping('stopping');
  t.equal(f.calls.length, 1, 'one child at a time');
  f.finish();
  t.same(f.calls[1]?.args, ['STOPPING=1', 'STATUS=stopping'], 'later STATUS replaces the earlier one');
  const closed = n.close();
  f.finish();
  await closed;
  t.equal(f.running, 0);
});

t.test('watchdog: WATCHDOG=1 every WATCHDOG_USEC/2 until close', async (t) => {
  const f = fakeSpawn();
  const clock = new ManualClock(0);
  const n = createSdNotifier({
    logger: silentLogger(),
    env: { ...SOCK, WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' },
    pid: 4242,
    clock,
    spawn: f.spawn,
  });
  t.equal(n.watchdogIntervalMs, 15_000);
  n.startWatchdog();
  n.startWatchdog(); // idempotent
  for (let i = 0; i < 4; i++) {
    t.same(f.calls.at(-1)?.args, ['WATCHDOG=1']);
    f.finish();
    clock.advance(15_000);
  }
  t.equal(f.calls.length, 5, 'one ping at start and one per interval (no duplicate start)');
  f.finish();
  await n.close();
  clock.advance(60_000);
  t.equal(f.calls.length, 5, 'no ping after close');
  t.equal(clock.pending, 0);
});

t.test('watchdog pings do not pile up behind a stuck child', async (t) => {
  const f = fakeSpawn();
  const clock = new ManualClock(0);
  const n = createSdNotifier({
    logger: silentLogger(),
    env: { ...SOCK, WATCHDOG_USEC: '2000000' },
    clock,
    spawn: f.spawn,
  });
  n.startWatchdog();
  clock.advance(10_000); // 10 intervals with the first child still running
  t.equal(f.calls.length, 1);
  f.finish();
  t.equal(f.calls.length, 2, 'the missed pings collapse into one WATCHDOG=1');
  t.same(f.calls[1]?.args, ['WATCHDOG=1']);
  f.finish();
  await n.close();
});

t.test('WATCHDOG_PID naming another process, or a bad WATCHDOG_USEC: no watchdog', async (t) => {
  t.equal(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, 99), null);
  t.equal(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '99' }, 99), 15_000);
  t.equal(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 99), 15_000);
  t.equal(watchdogInterval({ WATCHDOG_USEC: '0' }, 99), null);
  t.equal(watchdogInterval({ WATCHDOG_USEC: 'x' }, 99), null);
  t.equal(watchdogInterval({}, 99), null);
  const f = fakeSpawn();
  const clock = new ManualClock(0);
  const n = createSdNotifier({
    logger: silentLogger(),
    env: { ...SOCK, WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' },
    pid: 99,
    clock,
    spawn: f.spawn,
  });
  n.startWatchdog();
  clock.advance(100_000);
  t.same(f.calls, []);
});

t.test('status line: one line, bounded', async (t) => {
  t.equal(statusLine('a\r\nb\tc'), 'a b c');
  t.equal(statusLine('x'.repeat(500)).length, 200);
});

t.test('missing binary: logged once, never throws, later messages dropped', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const n = createSdNotifier({
    logger: silentLogger(lines),
    env: { ...SOCK, WATCHDOG_USEC: '1000000' },
    binary: join(tmpdir(), 'no-such-systemd-notify-' + process.pid),
  });
  n.ready('ready');
  await n.close(5000);
  n.status('again');
  n.stopping();
  await n.close(5000);
  const warns = lines.filter((l) => l.level === 'warn');
  t.equal(warns.length, 1, 'one warning');
  t.match(warns[0]?.msg, /systemd-notify not found/);
});

t.test('a failing send is logged once and does not stop later sends', async (t) => {
  const f = fakeSpawn();
  const lines: Array<Record<string, unknown>> = [];
  const n = createSdNotifier({ logger: silentLogger(lines), env: SOCK, spawn: f.spawn });
  n.ready();
  f.finish(null, 1);
  n.status('a');
  f.finish(null, 1);
  n.status('b');
  t.equal(f.calls.length, 3);
  f.finish();
  await n.close();
  t.equal(lines.filter((l) => l.level === 'warn').length, 1);
});

/** The real binary against a real AF_UNIX datagram socket (python3 receives; Node cannot). */
t.test('real systemd-notify delivers READY=1 to NOTIFY_SOCKET', async (t) => {
  if (spawnSync('systemd-notify', ['--version']).status !== 0) {
    t.pass('real systemd-notify', {
      skip: 'systemd-notify not installed (Debian package systemd): real notification not tested',
    });
    return;
  }
  const py = spawnSync('/usr/bin/python3', ['-c', 'import socket; socket.AF_UNIX']);
  if (py.status !== 0) {
    t.pass('real systemd-notify', {
      skip: '/usr/bin/python3 missing: cannot open an AF_UNIX datagram socket to receive',
    });
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ph-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'notify.sock');
  // Receive datagrams, close passed fds (systemd-notify's BARRIER=1 waits for that), print each message.
  const script = `
import socket, os, sys, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
print("LISTENING", flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
            for fd in fds: os.close(fd)
    print("MSG " + msg.decode().replace("\\n", "|"), flush=True)
`;
  const rx = spawn('/usr/bin/python3', ['-c', script, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void rx.kill());
  let out = '';
  const seen = (re: RegExp, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (re.test(out)) {
          clearTimeout(timer);
          rx.stdout.off('data', onData);
          resolve(true);
        }
      };
      const onData = (c: Buffer): void => {
        out += c.toString();
        check();
      };
      const timer = setTimeout(() => {
        rx.stdout.off('data', onData);
        resolve(false);
      }, ms);
      rx.stdout.on('data', onData);
      check();
    });
  t.ok(await seen(/LISTENING/, 10_000), 'receiver listening');
  const lines: Array<Record<string, unknown>> = [];
  const n = createSdNotifier({
    logger: silentLogger(lines),
    env: { NOTIFY_SOCKET: sock },
    spawn: (file, args, done) => {
      // The real spawner, with NOTIFY_SOCKET pointing at our socket for the child.
      const prev = process.env.NOTIFY_SOCKET;
      process.env.NOTIFY_SOCKET = sock;
      try {
        spawnNotify(file, args, done);
      } finally {
        if (prev === undefined) delete process.env.NOTIFY_SOCKET;
        else process.env.NOTIFY_SOCKET = prev;
      }
    },
  });
  n.ready('ready: test');
  t.ok(await seen(/MSG READY=1\|STATUS=ready: test/, 15_000), 'READY=1 with STATUS arrives');
  n.stopping();
  t.ok(await seen(/MSG STOPPING=1/, 15_000), 'STOPPING=1 arrives');
  await n.close(10_000);
  t.same(
    lines.filter((l) => l.level === 'warn'),
    [],
    'systemd-notify exited 0 (its barrier was answered)',
  );
});
