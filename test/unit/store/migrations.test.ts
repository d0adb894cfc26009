import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../../firmware/core/logger.js';
import { decodeRecord, openStore } from '../../../firmware/store/index.js';
import type { StoreInit } from '../../../firmware/store/index.js';

interface Contacts {
  version: number;
  contacts: Array<{ id: string; nickname: string; blocked: boolean }>;
  settings: { sort: string };
}

const defaults: Contacts = { version: 3, contacts: [], settings: { sort: 'name' } };

function validate(x: unknown): Contacts {
  const o = x as Contacts;
  if (!Array.isArray(o.contacts)) throw new Error('contacts: must be an array');
  for (const c of o.contacts) {
    if (typeof c.id !== 'string' || typeof c.nickname !== 'string' || typeof c.blocked !== 'boolean') {
      throw new Error(`contacts: bad entry ${JSON.stringify(c)}`);
    }
  }
  return o;
}

function init(file: string, calls: string[] = []): StoreInit<Contacts> {
  return {
    file,
    defaults,
    version: 3,
    validate,
    migrations: {
      // v1 → v2: `name` renamed to `nickname`.
      2: (old: { version: number; contacts: Array<{ id: string; name: string }> }) => {
        calls.push(`2 from ${old.version}`);
        return { ...old, contacts: old.contacts.map(({ name, ...c }) => ({ ...c, nickname: name })) };
      },
      // v2 → v3: `blocked` added.
      3: (old: { version: number; contacts: Array<object> }) => {
        calls.push(`3 from ${old.version}`);
        return { ...old, contacts: old.contacts.map((c) => ({ ...c, blocked: false })) };
      },
    },
  };
}

const v1 = JSON.stringify({ version: 1, contacts: [{ id: 'A', name: 'ada' }] });

t.test('old versions are migrated in order on load, defaults merged, validated', async (t) => {
  const dir = t.testdir({ 'contacts.json': v1 });
  const file = join(dir, 'contacts.json');
  const calls: string[] = [];
  const s = await openStore(init(file, calls), { logger: silentLogger() });
  t.same(calls, ['2 from 1', '3 from 2']);
  t.same(s.data, {
    version: 3,
    contacts: [{ id: 'A', nickname: 'ada', blocked: false }],
    settings: { sort: 'name' },
  });
  t.equal(readFileSync(file, 'utf8'), v1, 'loading does not rewrite the file');
  await s.update((d) => void d.contacts.push({ id: 'B', nickname: 'bob', blocked: true }));
  t.match(JSON.parse(readFileSync(file, 'utf8')), { version: 3, contacts: [{}, { id: 'B' }] });
  t.equal(readFileSync(`${file}.bak`, 'utf8'), v1, 'the pre-migration copy is the .bak');
});

t.test('a v2 file runs only the later migration', async (t) => {
  const dir = t.testdir({
    'c.json': JSON.stringify({
      version: 2,
      contacts: [{ id: 'A', nickname: 'ada' }],
      settings: { sort: 'id' },
    }),
  });
  const calls: string[] = [];
  const s = await openStore(init(join(dir, 'c.json'), calls), { logger: silentLogger() });
  t.same(calls, ['3 from 2']);
  t.same(s.data.settings, { sort: 'id' }, 'stored values win over defaults');
});

t.test('a newer version is refused and left untouched', async (t) => {
  const bytes = JSON.stringify({ version: 9, contacts: [] });
  const dir = t.testdir({ 'c.json': bytes });
  await t.rejects(openStore(init(join(dir, 'c.json')), { logger: silentLogger() }), {
    code: 'PH_ERR_STORE_VERSION',
    message: /has version 9, newer than this peerhub understands \(3\)/,
  });
  t.same(readdirSync(dir), ['c.json'], 'not quarantined');
  t.equal(readFileSync(join(dir, 'c.json'), 'utf8'), bytes);
});

t.test('a missing or throwing migration is refused and leaves the file alone', async (t) => {
  const dir = t.testdir({ 'c.json': v1 });
  const file = join(dir, 'c.json');
  const noStep = { ...init(file), migrations: { 3: (o: unknown) => o } };
  await t.rejects(openStore(noStep, { logger: silentLogger() }), {
    code: 'PH_ERR_STORE_VERSION',
    message: /no migration to version 2/,
  });
  const throwing = {
    ...init(file),
    migrations: {
      2: () => {
        throw new Error('bad field');
      },
    },
  };
  await t.rejects(openStore(throwing, { logger: silentLogger() }), {
    code: 'PH_ERR_STORE_VERSION',
    message: /migrate .* from version 1 to 2: bad field/,
  });
  t.same(readdirSync(dir), ['c.json']);
});

t.test('decodeRecord table', async (t) => {
  const i = init('/x/c.json');
  const cases: Array<[string, unknown, RegExp | null]> = [
    ['current', { version: 3, contacts: [] }, null],
    ['v1', { version: 1, contacts: [] }, null],
    ['null', null, /not a JSON object/],
    ['array', [], /not a JSON object/],
    ['string version', { version: '3', contacts: [] }, /"version" missing/],
    ['negative version', { version: -1, contacts: [] }, /"version" missing/],
    ['fractional version', { version: 2.5, contacts: [] }, /"version" missing/],
    ['invalid', { version: 3, contacts: [{ id: 1 }] }, /bad entry/],
    ['newer', { version: 4 }, /newer/],
  ];
  for (const [name, raw, re] of cases) {
    if (re) t.throws(() => decodeRecord(i, raw), re, name);
    else t.equal(decodeRecord(i, raw).version, 3, name);
  }
  t.equal(defaults.contacts.length, 0, 'defaults are never mutated');
});
