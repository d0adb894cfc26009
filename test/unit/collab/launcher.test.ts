import t, { type Test } from 'tap';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../../firmware/core/logger.js';
import { createLauncher, type LauncherInit } from '../../../firmware/collab/launcher.js';
import type { LaunchInfo } from '../../../firmware/collab/apps-types.js';

const APP = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const NODE = process.execPath;
type Lines = Array<Record<string, unknown>>;

const info: LaunchInfo = {
  inviter: { peerId: 'ABCDEFG-HIJKLMN', nickname: 'Ada' },
  message: 'a game? "quoted" & $HOME',
  data: Buffer.from('opening=sicilian').toString('base64'),
  sessionId: 'sess-1',
  invitationId: 'inv-1',
};

/** A fresh tmp dir with a private directory for launch-info files, and a launcher using it. */
function setup(t: Test, init: LauncherInit = {}) {
  const dir = t.testdir();
  const tmpDir = join(dir, 'tmp');
  mkdirSync(tmpDir);
  const lines: Lines = [];
  const launcher = createLauncher({ logger: silentLogger(lines) }, { tmpDir, ...init });
  t.teardown(() => launcher.close());
  const script = (name: string, body: string, mode = 0o755): string => {
    const file = join(dir, name);
    writeFileSync(file, body);
    chmodSync(file, mode);
    return file;
  };
  const output = (stream: string) =>
    lines.filter((l) => l.msg === 'application output' && l.stream === stream);
  return { dir, tmpDir, lines, launcher, script, output };
}

t.test('launch info on stdin and in $PEERHUB_LAUNCH_INFO (0600); minimal env; file removed', async (t) => {
  const { dir, tmpDir, launcher } = setup(t);
  const out = join(dir, 'out.json');
  const code = `
    const fs = require('node:fs');
    const file = process.env.PEERHUB_LAUNCH_INFO;
    const stdin = fs.readFileSync(0, 'utf8');
    fs.writeFileSync(process.argv[1], JSON.stringify({
      stdin, file, fromFile: fs.readFileSync(file, 'utf8'),
      mode: (fs.statSync(file).mode & 0o777).toString(8),
      dirMode: (fs.statSync(require('node:path').dirname(file)).mode & 0o777).toString(8),
      env: process.env, cwd: process.cwd(),
    }));`;
  const r = await launcher.launch({ id: APP, command: NODE, args: ['-e', code, out] }, info);
  t.match(r, { exitCode: 0, signal: null, timedOut: false, stdoutTail: '', stderrTail: '' });
  t.ok(r.durationMs >= 0);
  const got = JSON.parse(readFileSync(out, 'utf8'));
  const doc = { applicationId: APP, ...info };
  t.same(JSON.parse(got.stdin), doc, 'stdin: one JSON document');
  t.equal(got.stdin, got.fromFile, 'the same document in the file');
  t.equal(got.mode, '600');
  t.equal(got.dirMode, '700');
  t.equal(got.cwd, '/');
  // tap's coverage hook adds NODE_OPTIONS and _TAPJS_* to every child it sees; nothing else may leak.
  const env = Object.keys(got.env).filter((k) => k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS_'));
  t.same(env.sort(), [
    'HOME',
    'LANG',
    'PATH',
    'PEERHUB_APP_ID',
    'PEERHUB_INVITATION_ID',
    'PEERHUB_LAUNCH_INFO',
    'PEERHUB_SESSION_ID',
  ]);
  t.match(got.env, { PEERHUB_APP_ID: APP, PEERHUB_SESSION_ID: 'sess-1', PEERHUB_INVITATION_ID: 'inv-1' });
  t.notOk(existsSync(got.file), 'launch info file removed');
  t.same(readdirSync(tmpDir), [], 'its directory too');
});

t.test('exit code, output logged one line per line, tails', async (t) => {
  const { launcher, script, output, lines } = setup(t);
  const cmd = script(
    'talk.sh',
    `#!/bin/sh\necho hello\nprintf 'two\\r\\nthree\\n\\nlast'\necho oops >&2\nexit 3\n`,
  );
  const r = await launcher.launch({ id: APP, command: cmd, args: [] }, info);
  t.match(r, { exitCode: 3, signal: null, timedOut: false });
  t.equal(r.stdoutTail, 'hello\ntwo\r\nthree\n\nlast');
  t.equal(r.stderrTail, 'oops\n');
  t.same(
    output('stdout').map((l) => l.line),
    ['hello', 'two', 'three', '', 'last'],
  );
  t.match(output('stderr'), [{ line: 'oops', app: APP, component: 'launcher', level: 'info' }]);
  t.match(
    lines.find((l) => l.msg === 'application failed'),
    { level: 'warn', exitCode: 3, timedOut: false },
  );
});

t.test('output beyond the limit is counted, not logged; tails stay bounded', async (t) => {
  const { launcher, output, lines } = setup(t, { outputLimit: 100, tailChars: 10 });
  const code = `for (let i = 0; i < 1000; i++) console.log('line ' + i);`;
  const r = await launcher.launch({ id: APP, command: NODE, args: ['-e', code] }, info);
  t.equal(r.exitCode, 0);
  t.equal(r.stdoutTail, 'line 999\n'.slice(-10).padStart(10, '\n'));
  t.ok(output('stdout').length < 20, 'only the first lines logged');
  t.match(
    lines.filter((l) => l.msg === 'application output over the limit: not logged'),
    [{ stream: 'stdout', limit: 100 }],
  );
});

t.test('arguments are passed verbatim, no shell', async (t) => {
  const { dir, launcher } = setup(t);
  const out = join(dir, 'argv.json');
  const args = ['a b', '"double"', "it's", '$HOME', '`id`', '; touch pwned', '*', '', 'é ü'];
  const code = `require('node:fs').writeFileSync(process.argv[1], JSON.stringify(process.argv.slice(2)))`;
  const r = await launcher.launch({ id: APP, command: NODE, args: ['-e', code, out, ...args] }, info);
  t.equal(r.exitCode, 0);
  t.same(JSON.parse(readFileSync(out, 'utf8')), args);
  t.notOk(existsSync(join('/', 'pwned')));
});

t.test('over the time limit: the group gets SIGTERM, reported timedOut, file removed', async (t) => {
  const { dir, tmpDir, launcher, script, lines } = setup(t, { timeoutMs: 300, killGraceMs: 500 });
  const cmd = script('slow.sh', `#!/bin/sh\necho "$PEERHUB_LAUNCH_INFO" > "$1"\nsleep 30\n`);
  const r = await launcher.launch({ id: APP, command: cmd, args: [join(dir, 'path')] }, info);
  t.match(r, { timedOut: true, signal: 'SIGTERM', exitCode: null });
  t.ok(r.durationMs >= 300 && r.durationMs < 5000, `took ${r.durationMs} ms`);
  t.notOk(existsSync(readFileSync(join(dir, 'path'), 'utf8').trim()));
  t.same(readdirSync(tmpDir), []);
  t.match(
    lines.find((l) => l.level === 'warn'),
    { msg: 'application over its time limit: terminating', timeoutMs: 300 },
  );
});

t.test('a program that ignores SIGTERM is killed after the grace period', async (t) => {
  const { launcher, script } = setup(t, { timeoutMs: 200, killGraceMs: 300 });
  const cmd = script('stubborn.sh', `#!/bin/sh\ntrap '' TERM\nsleep 30\necho survived\n`);
  const r = await launcher.launch({ id: APP, command: cmd, args: [] }, info);
  t.match(r, { timedOut: true, signal: 'SIGKILL', stdoutTail: '' });
  t.ok(r.durationMs >= 500 && r.durationMs < 5000, `took ${r.durationMs} ms`);
});

t.test('a child left holding the output does not hold the launch', async (t) => {
  const { launcher, script } = setup(t, { killGraceMs: 200 });
  const cmd = script('fork.sh', `#!/bin/sh\necho started\nsleep 3 &\nexit 0\n`);
  const r = await launcher.launch({ id: APP, command: cmd, args: [] }, info);
  t.match(r, { exitCode: 0, timedOut: false, stdoutTail: 'started\n' });
  t.ok(r.durationMs < 2500, `took ${r.durationMs} ms`);
});

t.test('command missing, not executable, a directory, a bad interpreter: PH_ERR_APP_LAUNCH', async (t) => {
  const { dir, tmpDir, launcher, script } = setup(t);
  const run = (command: string) => launcher.launch({ id: APP, command, args: [] }, info);
  const err = (message: RegExp) => ({ code: 'PH_ERR_APP_LAUNCH', message });
  await t.rejects(
    run(join(dir, 'nope')),
    err(new RegExp(`cannot launch application ${APP}: .*nope does not exist`)),
  );
  await t.rejects(run(script('plain.sh', '#!/bin/sh\n', 0o644)), err(/plain.sh is not executable/));
  await t.rejects(run(dir), err(/is not a file/));
  await t.rejects(
    run(script('interp.sh', '#!/nonexistent/interpreter\n')),
    err(/could not be executed: ENOENT/),
  );
  await t.rejects(run('relative/cmd'), { code: 'PH_ERR_BAD_REQUEST', message: /^command:/ });
  t.same(readdirSync(tmpDir), [], 'no launch info left behind');
  t.equal(launcher.active, 0, 'slots released');
});

t.test('launch info is checked', async (t) => {
  const { launcher } = setup(t);
  const app = { id: APP, command: '/bin/true', args: [] };
  const bad: Array<[unknown, RegExp]> = [
    [{ ...info, message: 'm'.repeat(256) }, /^message: longer than 255/],
    [{ ...info, data: 'no!' }, /^data: is not valid base64/],
    [{ ...info, inviter: { peerId: '', nickname: 'x' } }, /^inviter.peerId: must not be empty/],
    [{ ...info, sessionId: 3 }, /^sessionId: must be a string/],
    [{ ...info, extra: 1 }, /^extra: unknown field/],
  ];
  for (const [i, m] of bad)
    await t.rejects(launcher.launch(app, i as LaunchInfo), { code: 'PH_ERR_BAD_REQUEST', message: m });
});

t.test('at most maxConcurrent run at once; the rest wait, beyond maxQueued refused', async (t) => {
  const { dir, launcher, script } = setup(t, { maxConcurrent: 2, maxQueued: 2 });
  const runs = join(dir, 'runs');
  mkdirSync(runs);
  const cmd = script(
    'busy.sh',
    `#!/bin/sh\ntouch "$1/run.$$"\nls "$1" | grep -c '^run' >> "$1/../counts"\nsleep 0.3\nrm "$1/run.$$"\n`,
  );
  const go = () => launcher.launch({ id: APP, command: cmd, args: [runs] }, info);
  const all = [go(), go(), go(), go()];
  t.equal(launcher.active, 4);
  await t.rejects(go(), { code: 'PH_ERR_APP_LAUNCH', message: /too many applications launching/ });
  const results = await Promise.all(all);
  t.same(
    results.map((r) => r.exitCode),
    [0, 0, 0, 0],
  );
  const counts = readFileSync(join(dir, 'counts'), 'utf8').trim().split('\n').map(Number);
  t.equal(counts.length, 4);
  t.ok(Math.max(...counts) <= 2, `at most 2 at once (${counts})`);
  t.equal(launcher.active, 0);
});

t.test('close terminates running launches and refuses waiting and new ones', async (t) => {
  const { launcher, script } = setup(t, { maxConcurrent: 1, killGraceMs: 200 });
  const cmd = script('long.sh', `#!/bin/sh\nsleep 30\n`);
  const running = launcher.launch({ id: APP, command: cmd, args: [] }, info);
  const waiting = launcher.launch({ id: APP, command: cmd, args: [] }, info);
  const refused = t.rejects(waiting, { code: 'PH_ERR_APP_LAUNCH', message: /shutting down/ });
  await new Promise((r) => setTimeout(r, 100));
  await launcher.close();
  t.match(await running, { signal: 'SIGTERM', timedOut: false });
  await refused;
  await t.rejects(launcher.launch({ id: APP, command: cmd, args: [] }, info), { code: 'PH_ERR_APP_LAUNCH' });
});
