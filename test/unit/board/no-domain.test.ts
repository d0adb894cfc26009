/**
 * Loading the agent (and the board with johnny-five) must not load node:domain: once loaded, every
 * EventEmitter and async operation of the process goes through domain's hooks (johnny-five's REPL
 * wrapper used to pull it in through node:repl). Checked in a plain child over the compiled code in
 * dist/ (`npm test` builds first), without tap's loader, which may load modules of its own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const modules = ['dist/firmware/agent.js', 'dist/board/board.js'].map((m) => join(root, m));

t.test('the agent and the board load neither node:domain nor node:repl', async (t) => {
  t.ok(
    modules.every((m) => existsSync(m)),
    'compiled modules present (npm run build)',
  );
  const script = [
    ...modules.map((m) => `await import(${JSON.stringify(pathToFileURL(m).href)});`),
    `console.log(JSON.stringify(process.moduleLoadList.filter((m) => /^NativeModule (domain|repl)$/.test(m))));`,
  ].join('\n');
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(NODE_OPTIONS|NODE_V8_COVERAGE|_?TAP)/.test(k)),
  );
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout.trim().split('\n').pop() ?? 'null'), []);
});
