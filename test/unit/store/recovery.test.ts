import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../../firmware/core/logger.js';
import { openStore } from '../../../firmware/store/index.js';
import type { StoreFs } from '../../../firmware/store/index.js';
import { counterDefaults, fsError, recordingFs, validateCounter } from './helpers.js';
import type { Counter, Fault } from './helpers.js';

type Lines = Array<Record<string, unknown>>;
const NOW = Date.UTC(2025, 0, 2, 3, 4, 5, 6);
const STAMP = '2025-01-02T03-04-05-006Z';

function open(file: string, opts: { lines?: Lines; fs?: StoreFs } = {}) {
  return openStore<Counter>(
    { file, defaults: counterDefaults, version: 1, validate: validateCounter },
    { logger: silentLogger(opts.lines), fs: opts.fs, now: () => NOW },
  );
}

const v = (count: number): string => `${JSON.stringify({ version: 1, count, names: [] })}\n`;

/** Every file in dir with its bytes. */
function files(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

const damaged: Array<[string, string, RegExp]> = [
  ['truncated', '{"version":1,"count":2,"na', /not JSON/],
  ['empty', '', /empty file/],
  ['failing validation', JSON.stringify({ version: 1, count: 'two', names: [] }), /invalid: count/],
  ['not an object', '[1,2]', /invalid: not a JSON object/],
  ['no version', JSON.stringify({ count: 2, names: [] }), /invalid: "version" missing/],
];

for (const [name, bytes, reason] of damaged) {
  t.test(`${name} file → quarantined, .bak used`, async (t) => {
    const dir = t.testdir({ 'c.json': bytes, 'c.json.bak': v(1) });
    const lines: Lines = [];
    const s = await open(join(dir, 'c.json'), { lines });
    t.same(s.data, { version: 1, count: 1, names: [] }, 'data from .bak');
    t.same(files(dir), { [`c.json.corrupt-${STAMP}`]: bytes, 'c.json.bak': v(1) }, 'bad file kept aside');
    t.match(lines, [
      { level: 'warn', file: join(dir, 'c.json'), quarantined: join(dir, `c.json.corrupt-${STAMP}`), reason },
      { level: 'warn', bak: join(dir, 'c.json.bak') },
    ]);
    await s.update((d) => void (d.count = 3));
    t.same(JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8')).count, 3);
    t.equal(readFileSync(join(dir, 'c.json.bak'), 'utf8'), v(1), '.bak stays the last good copy');
  });
}

t.test(
  'corrupt file and no .bak → PH_ERR_STORE_CORRUPT naming the quarantined file; nothing deleted',
  async (t) => {
    const dir = t.testdir({ 'c.json': '{"version":1,"cou' });
    const err = await open(join(dir, 'c.json')).catch((e: unknown) => e);
    t.match(err, { code: 'PH_ERR_STORE_CORRUPT' });
    const q = join(dir, `c.json.corrupt-${STAMP}`);
    t.match((err as Error).message, `moved aside to ${q}`);
    t.match((err as Error).message, /there is no .*c\.json\.bak/);
    t.match((err as Error).message, /Nothing was deleted/);
    t.same(files(dir), { [`c.json.corrupt-${STAMP}`]: '{"version":1,"cou' });

    const restart = await open(join(dir, 'c.json')).catch((e: unknown) => e);
    t.match(
      restart,
      { code: 'PH_ERR_STORE_CORRUPT', message: /earlier copies were quarantined/ },
      'no quiet restart',
    );
    t.match((restart as Error).message, q);
    t.same(files(dir), { [`c.json.corrupt-${STAMP}`]: '{"version":1,"cou' }, 'still nothing deleted');
    // The owner moves the quarantined copy away: now the store starts empty, as asked.
    renameSync(q, `${dir}-moved`);
    t.same((await open(join(dir, 'c.json'))).data, counterDefaults);
  },
);

t.test('corrupt file and corrupt .bak → error names both; .bak left in place', async (t) => {
  const dir = t.testdir({ 'c.json': 'x', 'c.json.bak': 'y' });
  const err = await open(join(dir, 'c.json')).catch((e: unknown) => e);
  t.match(err, { code: 'PH_ERR_STORE_CORRUPT', message: /corrupt too/ });
  t.same(files(dir), { [`c.json.corrupt-${STAMP}`]: 'x', 'c.json.bak': 'y' });
});

t.test('missing file with a good .bak → .bak used', async (t) => {
  const dir = t.testdir({ 'c.json.bak': v(4) });
  const lines: Lines = [];
  const s = await open(join(dir, 'c.json'), { lines });
  t.equal(s.data.count, 4);
  t.match(lines, [{ level: 'warn', bak: join(dir, 'c.json.bak') }]);
});

t.test('missing file with a corrupt .bak → error, not defaults', async (t) => {
  const dir = t.testdir({ 'c.json.bak': '{' });
  await t.rejects(open(join(dir, 'c.json')), {
    code: 'PH_ERR_STORE_CORRUPT',
    message: /is missing.*corrupt too/,
  });
  t.same(files(dir), { 'c.json.bak': '{' });
});

t.test('an unreadable file is an error and is not moved', async (t) => {
  const dir = t.testdir();
  mkdirSync(join(dir, 'c.json'));
  await t.rejects(open(join(dir, 'c.json')), { code: 'PH_ERR_STORE_CORRUPT', message: /EISDIR/ });
  t.same(readdirSync(dir), ['c.json']);
});

t.test('quarantine never replaces an earlier quarantined file', async (t) => {
  const dir = t.testdir({
    'c.json': 'new junk',
    [`c.json.corrupt-${STAMP}`]: 'old junk',
    'c.json.bak': v(1),
  });
  await open(join(dir, 'c.json'));
  t.same(files(dir), {
    [`c.json.corrupt-${STAMP}`]: 'old junk',
    [`c.json.corrupt-${STAMP}-1`]: 'new junk',
    'c.json.bak': v(1),
  });
});

const faults: Array<[string, string, string, string]> = [
  // [what, op, file suffix the op touches, errno]
  ['disk full while writing', 'write', 'c.json.tmp', 'ENOSPC'],
  ['disk full at fsync', 'sync', 'c.json.tmp', 'ENOSPC'],
  ['read-only filesystem', 'open', 'c.json.tmp', 'EROFS'],
  ['permission denied', 'open', 'c.json.tmp', 'EACCES'],
  ['failure refreshing .bak', 'link', 'c.json', 'EIO'],
  ['failure at the final rename', 'rename', 'c.json.tmp', 'EROFS'],
];

for (const [what, op, target, code] of faults) {
  t.test(`write failure (${what}) → PH_ERR_STORE_WRITE; memory and good file unchanged`, async (t) => {
    const dir = t.testdir();
    const file = join(dir, 'c.json');
    let armed = false;
    const fault: Fault = (o, p) =>
      armed && o === op && p === join(dir, target) ? fsError(code, o) : undefined;
    const s = await open(file, { fs: recordingFs([], fault) });
    await s.update((d) => void (d.count = 1));
    await s.update((d) => void (d.count = 2));
    const before = files(dir);

    armed = true;
    const err = await s.update((d) => void (d.count = 3)).catch((e: unknown) => e);
    t.match(err, { code: 'PH_ERR_STORE_WRITE', message: new RegExp(`write ${file}: ${code}`) });
    t.equal(((err as Error).cause as NodeJS.ErrnoException).code, code, 'cause kept');
    t.equal(s.data.count, 2, 'in-memory state stays what is on disk');
    t.equal(readFileSync(file, 'utf8'), before['c.json'], 'good file untouched');
    // .bak is the previous copy, or already the current one when the failure came after refreshing it.
    t.ok([1, 2].includes(JSON.parse(readFileSync(`${file}.bak`, 'utf8')).count), '.bak still a good copy');
    t.notOk(readdirSync(dir).includes('c.json.tmp'), 'temp file removed');

    armed = false;
    t.equal((await s.update((d) => void (d.count += 10))).count, 12, 'works again once the fault is gone');
    t.equal(JSON.parse(readFileSync(file, 'utf8')).count, 12);
  });
}

t.test('a real failing path: the store directory replaced by a file after open', async (t) => {
  const dir = t.testdir({ data: {} });
  const s = await open(join(dir, 'data', 'c.json'));
  const { rmSync } = await import('node:fs');
  rmSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data'), 'not a directory');
  await t.rejects(
    s.update((d) => void (d.count = 1)),
    { code: 'PH_ERR_STORE_WRITE', message: /ENOTDIR/ },
  );
  t.equal(s.data.count, 0);
  t.equal(readFileSync(join(dir, 'data'), 'utf8'), 'not a directory');
});
