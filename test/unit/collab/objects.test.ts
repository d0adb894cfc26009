import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { createObjects, MAX_OBJECTS } from '../../../firmware/collab/objects.js';
import type { ObjectEvents } from '../../../firmware/collab/apps-types.js';
import type { StoreFs } from '../../../firmware/store/index.js';
import type { PeerApiDeps } from '../../../firmware/wire/types.js';
import { fsError, recordingFs } from '../store/helpers.js';

const T0 = 1_700_000_000_000;
const AVATAR = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
const code = (c: string, message?: RegExp) => (message ? { code: c, message } : { code: c });
const guid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const b64 = (bytes: number): string => Buffer.alloc(bytes, 1).toString('base64');

type Seen = { type: string; data: ObjectEvents['object:changed']; onDisk: string[] };

async function hub(dir: string, fs?: StoreFs) {
  const file = join(dir, 'objects.json');
  const clock = new ManualClock(T0);
  const events: Seen[] = [];
  const onDisk = (): string[] =>
    existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { objects: Array<{ id: string }> }).objects.map(
          (o) => o.id,
        )
      : [];
  const bus = {
    emit<K extends keyof ObjectEvents & string>(type: K, data: ObjectEvents[K]): void {
      events.push({ type, data, onDisk: onDisk() });
    },
  };
  const objects = createObjects({ logger: silentLogger(), clock, bus, fs }, { file });
  await objects.open();
  return { objects, events, clock, file };
}

t.test('set (added, updated), get, list, delete: events after the durable write', async (t) => {
  const { objects, events, clock, file } = await hub(t.testdir());
  const data = Buffer.from('a picture').toString('base64');
  const o = await objects.set({ id: AVATAR.toUpperCase(), data, scope: 'Internet' });
  t.same(o, { id: AVATAR, data, scope: 'Internet', updatedAt: T0 });
  t.same(events, [{ type: 'object:changed', data: { change: 'added', id: AVATAR }, onDisk: [AVATAR] }]);
  t.same(objects.get(AVATAR), o);
  t.equal(objects.get(guid(9)), undefined);

  clock.advance(5);
  await objects.set({ id: AVATAR, data, scope: 'Internet' });
  t.equal(events.length, 1, 'unchanged: no write, no event');
  const u = await objects.set({ id: AVATAR, data: '', scope: 'Internet' });
  t.same(u, { id: AVATAR, data: '', scope: 'Internet', updatedAt: T0 + 5 });
  t.same(events[1], { type: 'object:changed', data: { change: 'updated', id: AVATAR }, onDisk: [AVATAR] });

  await objects.set({ id: guid(1) });
  t.match(objects.get(guid(1)), { data: '', scope: 'None' }, 'defaults');
  t.same(
    objects.list().map((x) => x.id),
    [AVATAR, guid(1)],
  );
  await objects.delete(AVATAR);
  t.same(events[3], { type: 'object:changed', data: { change: 'removed', id: AVATAR }, onDisk: [guid(1)] });
  await t.rejects(objects.delete(AVATAR), code('PH_ERR_OBJECT_NOT_FOUND', new RegExp(AVATAR)));
  await t.rejects(objects.delete('avatar'), code('PH_ERR_BAD_REQUEST', /^id:/));
  t.match(JSON.parse(readFileSync(file, 'utf8')), { version: 1, objects: [{ id: guid(1) }] });
});

t.test('at most 64 objects', async (t) => {
  const { objects } = await hub(t.testdir());
  t.equal(MAX_OBJECTS, 64);
  for (let i = 1; i <= 64; i++) await objects.set({ id: guid(i) });
  await t.rejects(objects.set({ id: guid(65) }), code('PH_ERR_OBJECTS_FULL', /64/));
  await objects.set({ id: guid(3), scope: 'All' });
  t.equal(objects.list().length, 64);
});

const bad: Array<[string, unknown, RegExp]> = [
  ['not an object', null, /^object: must be an object/],
  ['unknown field', { id: AVATAR, name: 'x' }, /^name: unknown field/],
  ['id missing', { data: '' }, /^id: must be a GUID/],
  ['id malformed', { id: AVATAR.slice(1) }, /^id: .* is not a GUID/],
  ['data not base64', { id: AVATAR, data: 'a=b=' }, /^data: is not valid base64/],
  ['data over 16 KB', { id: AVATAR, data: b64(16 * 1024 + 1) }, /^data: decodes to more than 16384/],
  ['scope unknown', { id: AVATAR, scope: 'all' }, /^scope: must be one of/],
];

t.test('every validation error is PH_ERR_BAD_REQUEST naming the field', async (t) => {
  const dir = t.testdir();
  const { objects, events } = await hub(dir);
  for (const [name, input, message] of bad) {
    await t.rejects(objects.set(input), { code: 'PH_ERR_BAD_REQUEST', statusCode: 400, message }, name);
  }
  t.same(events, []);
  t.same(readdirSync(dir), []);
  t.equal((await objects.set({ id: AVATAR, data: b64(16 * 1024) })).data.length, 21848, '16 KB is allowed');
});

t.test('listFor: by scope; the public view includes the data', async (t) => {
  const { objects } = await hub(t.testdir());
  const scopes = ['None', 'NearMe', 'Internet', 'All'] as const;
  for (const [i, scope] of scopes.entries()) await objects.set({ id: guid(i + 1), scope, data: b64(i + 1) });
  const ids = (v: 'contact' | 'nearby' | Array<'contact' | 'nearby'>) => objects.listFor(v).map((o) => o.id);
  t.same(ids('contact'), [guid(3), guid(4)]);
  t.same(ids('nearby'), [guid(2), guid(4)]);
  t.same(ids(['nearby', 'contact']), [guid(2), guid(3), guid(4)]);
  t.same(objects.listFor('contact')[0], {
    id: guid(3),
    scope: 'Internet',
    data: b64(3),
    dataSize: 3,
    updatedAt: T0,
  });
  const getter: PeerApiDeps['objects'] = () => objects.listFor('contact');
  t.equal(getter('AAAAAAA').length, 2);
});

t.test('persists across reopen; a corrupt file is quarantined and .bak used', async (t) => {
  const dir = t.testdir();
  const first = await hub(dir);
  await first.objects.set({ id: AVATAR, data: b64(4), scope: 'All' });
  await first.objects.set({ id: guid(1) });
  const before = first.objects.list();
  await first.objects.close();
  const again = await hub(dir);
  t.same(again.objects.list(), before);
  await again.objects.close();

  writeFileSync(join(dir, 'objects.json'), 'not json');
  const recovered = await hub(dir);
  t.same(
    recovered.objects.list().map((o) => o.id),
    [AVATAR],
    'the last good copy',
  );
  t.ok(readdirSync(dir).some((f) => f.startsWith('objects.json.corrupt-')));

  const dir2 = t.testdir({
    'objects.json': JSON.stringify({
      version: 1,
      objects: [{ id: AVATAR, data: '', scope: 'Moon', updatedAt: 1 }],
    }),
  });
  const broken = createObjects(
    { logger: silentLogger(), clock: new ManualClock(), bus: { emit: () => undefined } },
    { file: join(dir2, 'objects.json') },
  );
  await t.rejects(broken.open(), code('PH_ERR_STORE_CORRUPT', /scope/));
});

t.test('a failed write changes nothing and emits nothing', async (t) => {
  let fail = false;
  const fs = recordingFs([], (op) => (fail && op === 'rename' ? fsError('EIO', 'rename') : undefined));
  const { objects, events } = await hub(t.testdir(), fs);
  await objects.set({ id: AVATAR });
  fail = true;
  await t.rejects(objects.set({ id: guid(1) }), code('PH_ERR_STORE_WRITE'));
  await t.rejects(objects.delete(AVATAR), code('PH_ERR_STORE_WRITE'));
  t.same(
    objects.list().map((o) => o.id),
    [AVATAR],
  );
  t.equal(events.length, 1);
});
