import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../../firmware/core/logger.js';
import { openStore } from '../../../firmware/store/index.js';
import type { StoreFs } from '../../../firmware/store/index.js';
import { counterDefaults, recordingFs, validateCounter } from './helpers.js';
import type { Counter } from './helpers.js';

type Lines = Array<Record<string, unknown>>;
const NOW = Date.UTC(2025, 0, 2, 3, 4, 5, 6);

function open(file: string, opts: { lines?: Lines; fs?: StoreFs } = {}) {
  return openStore<Counter>(
    { file, defaults: counterDefaults, version: 1, validate: validateCounter },
    { logger: silentLogger(opts.lines), fs: opts.fs, now: () => NOW },
  );
}

function onDisk(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

t.test('round trip', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'sub', 'counter.json');
  const s = await open(file);
  t.same(s.data, counterDefaults, 'defaults when there is no file');
  t.equal(s.file, file);
  t.same(readdirSync(join(dir, 'sub')), [], 'opening writes nothing');

  const after = await s.update((d) => {
    d.count = 1;
    d.names.push('ada');
  });
  t.same(after, { version: 1, count: 1, names: ['ada'] });
  t.same(s.data, after);
  t.same(onDisk(file), after);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
  await s.update((d) => void (d.count = 2));
  t.same(onDisk(`${file}.bak`), after, '.bak holds the previous good copy');
  t.same(readdirSync(join(dir, 'sub')).sort(), ['counter.json', 'counter.json.bak'], 'no temp files left');
  await s.close();

  const again = await open(file);
  t.same(again.data, { version: 1, count: 2, names: ['ada'] });
  await again.close();
});

t.test(
  'durable write order: data fsynced before rename, .bak before replace, directory fsynced last',
  async (t) => {
    const dir = t.testdir();
    const d = basename(dir);
    const file = join(dir, 'c.json');
    const log: string[] = [];
    const s = await open(file, { fs: recordingFs(log) });
    log.length = 0;
    await s.update((x) => void (x.count = 1));
    t.same(log, [
      'open c.json.tmp w',
      'write c.json.tmp',
      'sync c.json.tmp',
      'close c.json.tmp',
      'rename c.json.tmp -> c.json',
      `open ${d} r`,
      `sync ${d}`,
      `close ${d}`,
    ]);
    log.length = 0;
    await s.update((x) => void (x.count = 2));
    const at = (entry: string): number => {
      const i = log.indexOf(entry);
      t.not(i, -1, `${entry} happened`);
      return i;
    };
    t.ok(at('sync c.json.tmp') < at('rename c.json.tmp -> c.json'), 'fsync before rename');
    t.ok(
      at('link c.json -> c.json.bak.tmp') < at('rename c.json.bak.tmp -> c.json.bak'),
      '.bak made atomically',
    );
    t.ok(
      at('rename c.json.bak.tmp -> c.json.bak') < at('rename c.json.tmp -> c.json'),
      '.bak before replace',
    );
    t.ok(at('rename c.json.tmp -> c.json') < at(`sync ${d}`), 'directory fsynced after the renames');
    t.same(log.slice(-3), [`open ${d} r`, `sync ${d}`, `close ${d}`], 'directory fsync is the last step');
    t.same(onDisk(`${file}.bak`), { version: 1, count: 1, names: [] });
  },
);

t.test('without hard links the .bak is a durable copy', async (t) => {
  const file = join(t.testdir(), 'c.json');
  const log: string[] = [];
  const noLinks = recordingFs(log, (op) =>
    op === 'link' ? Object.assign(new Error('EPERM'), { code: 'EPERM' }) : undefined,
  );
  const s = await open(file, { fs: noLinks });
  await s.update((d) => void (d.count = 1));
  await s.update((d) => void (d.count = 2));
  t.same(onDisk(`${file}.bak`), { version: 1, count: 1, names: [] });
  t.ok(log.includes('sync c.json.bak.tmp'), 'copy fsynced');
});

t.test('updates are serialized', async (t) => {
  const file = join(t.testdir(), 'c.json');
  let inFlight = 0;
  let maxInFlight = 0;
  const log: string[] = [];
  const base = recordingFs(log);
  const fs: StoreFs = {
    ...base,
    async open(path, flags, mode) {
      if (path.endsWith('.tmp') && !path.endsWith('.bak.tmp'))
        maxInFlight = Math.max(maxInFlight, ++inFlight);
      return base.open(path, flags, mode);
    },
    async rename(from, to) {
      await base.rename(from, to);
      if (to === file) inFlight--;
    },
  };
  const s = await open(file, { fs });
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      s.update(async (d) => {
        const n = d.count;
        await sleep((i * 7) % 5);
        d.count = n + 1;
        d.names.push(`n${i}`);
      }),
    ),
  );
  t.same(
    results.map((r) => r.count),
    Array.from({ length: 20 }, (_, i) => i + 1),
    'each update saw the previous one',
  );
  t.equal(s.data.count, 20);
  t.same(
    s.data.names,
    Array.from({ length: 20 }, (_, i) => `n${i}`),
    'in call order',
  );
  t.same(onDisk(file), s.data);
  t.equal(maxInFlight, 1, 'writes never overlapped');

  const failing = s.update(() => {
    throw new Error('boom');
  });
  const next = s.update((d) => void (d.count = 100));
  await t.rejects(failing, /boom/);
  t.equal((await next).count, 100, 'a failed update does not block the queue');
});

t.test('an update producing invalid data is refused, nothing written', async (t) => {
  const file = join(t.testdir(), 'c.json');
  const s = await open(file);
  await s.update((d) => void (d.count = 1));
  const before = readFileSync(file, 'utf8');
  await t.rejects(
    s.update((d) => void ((d as unknown as { count: string }).count = 'x')),
    { code: 'PH_ERR_INTERNAL', message: /refusing to write invalid data .*count/ },
  );
  t.equal(s.data.count, 1);
  t.equal(readFileSync(file, 'utf8'), before);
});

t.test('close waits for pending updates and refuses later ones', async (t) => {
  const s = await open(join(t.testdir(), 'c.json'));
  const pending = s.update(async (d) => {
    await sleep(20);
    d.count = 5;
  });
  await s.close();
  t.equal((await pending).count, 5);
  await t.rejects(
    s.update(() => undefined),
    { code: 'PH_ERR_INTERNAL', message: /closed/ },
  );
});

t.test('defaults fill missing top-level keys', async (t) => {
  const dir = t.testdir({ 'c.json': JSON.stringify({ version: 1, count: 7 }) });
  const s = await open(join(dir, 'c.json'));
  t.same(s.data, { version: 1, count: 7, names: [] });
});

t.test('opening under a path whose parent is a file fails with PH_ERR_STORE_WRITE', async (t) => {
  const dir = t.testdir({ blocker: 'a file' });
  await t.rejects(open(join(dir, 'blocker', 'c.json')), {
    code: 'PH_ERR_STORE_WRITE',
    message: /EEXIST|ENOTDIR/,
  });
});
