import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { createApplications, MAX_APPLICATIONS, unknownApplication } from '../../../firmware/collab/apps.js';
import type { ApplicationEvents, Applications } from '../../../firmware/collab/apps-types.js';
import type { StoreFs } from '../../../firmware/store/index.js';
import type { PeerApiDeps } from '../../../firmware/wire/types.js';
import { fsError, recordingFs } from '../store/helpers.js';

const T0 = 1_700_000_000_000;
const CHESS = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const CHESS_UPPER = CHESS.toUpperCase();
const DRAW = '0a1b2c3d-0000-4000-8000-000000000001';
const code = (c: string, message?: RegExp) => (message ? { code: c, message } : { code: c });
const guid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const b64 = (bytes: number): string => Buffer.alloc(bytes, 7).toString('base64');

type Seen = { type: string; data: ApplicationEvents['application:changed']; onDisk: string[] };

async function hub(dir: string, fs?: StoreFs) {
  const file = join(dir, 'applications.json');
  const clock = new ManualClock(T0);
  const events: Seen[] = [];
  const onDisk = (): string[] =>
    existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { applications: Array<{ id: string }> }).applications.map(
          (a) => a.id,
        )
      : [];
  const bus = {
    emit<K extends keyof ApplicationEvents & string>(type: K, data: ApplicationEvents[K]): void {
      events.push({ type, data, onDisk: onDisk() });
    },
  };
  const apps = createApplications({ logger: silentLogger(), clock, bus, fs }, { file });
  await apps.open();
  return { apps, events, clock, file };
}

const chess = {
  id: CHESS_UPPER,
  description: 'Chess, two players',
  data: Buffer.from('board=standard').toString('base64'),
  command: '/usr/local/bin/chess',
  args: ['--session', 'x y'],
  scope: 'All',
};

t.test('register, re-register (update), get, list, unregister: events after the durable write', async (t) => {
  const { apps, events, clock, file } = await hub(t.testdir());
  t.same(apps.list(), []);
  const a = await apps.register(chess);
  t.same(a, { ...chess, id: CHESS, registeredAt: T0, updatedAt: T0 }, 'GUID lower-cased, times set');
  t.same(events, [{ type: 'application:changed', data: { change: 'added', id: CHESS }, onDisk: [CHESS] }]);
  t.same(apps.get(CHESS_UPPER), a, 'lookup in any case');
  t.equal(apps.get(DRAW), undefined);
  t.equal(apps.get('not a guid'), undefined);

  clock.advance(1000);
  t.same(await apps.register(chess), a, 'the same registration again');
  t.equal(events.length, 1, 'no-op re-register: no write, no event');

  const u = await apps.register({ ...chess, args: [], description: 'Chess' });
  t.match(u, { id: CHESS, description: 'Chess', args: [], registeredAt: T0, updatedAt: T0 + 1000 });
  t.same(events[1], { type: 'application:changed', data: { change: 'updated', id: CHESS }, onDisk: [CHESS] });

  await apps.register({ id: DRAW, command: '/opt/draw/run' });
  t.match(apps.get(DRAW), { description: '', data: '', args: [], scope: 'None' }, 'defaults');
  t.same(
    apps.list().map((x) => x.id),
    [CHESS, DRAW],
  );

  const gone = await apps.unregister(CHESS_UPPER);
  t.equal(gone.id, CHESS);
  t.same(events[3], { type: 'application:changed', data: { change: 'removed', id: CHESS }, onDisk: [DRAW] });
  await t.rejects(apps.unregister(CHESS), code('PH_ERR_APP_NOT_FOUND', new RegExp(CHESS)));
  await t.rejects(apps.unregister('chess'), code('PH_ERR_BAD_REQUEST', /^id:/));
  t.match(JSON.parse(readFileSync(file, 'utf8')), { version: 1, applications: [{ id: DRAW }] });
  await apps.close();
});

t.test('at most 64 applications: PH_ERR_APPS_FULL, updates still allowed', async (t) => {
  const { apps, events } = await hub(t.testdir());
  t.equal(MAX_APPLICATIONS, 64);
  for (let i = 1; i <= 64; i++) await apps.register({ id: guid(i), command: '/bin/true' });
  await t.rejects(apps.register({ id: guid(65), command: '/bin/true' }), code('PH_ERR_APPS_FULL', /64/));
  t.equal(apps.list().length, 64);
  t.equal(events.length, 64, 'no event for the refused one');
  await apps.register({ id: guid(64), command: '/bin/false' });
  t.equal(apps.get(guid(64))?.command, '/bin/false', 'an update is not an addition');
  await apps.unregister(guid(1));
  await apps.register({ id: guid(65), command: '/bin/true' });
  t.equal(apps.list().length, 64);
});

const bad: Array<[string, unknown, RegExp]> = [
  ['not an object', 'chess', /^application: must be an object/],
  ['unknown field', { ...chess, path: '/x' }, /^path: unknown field/],
  ['id missing', { ...chess, id: undefined }, /^id: must be a GUID/],
  ['id not a GUID', { ...chess, id: 'chess' }, /^id: "chess" is not a GUID/],
  ['id with braces', { ...chess, id: `{${CHESS}}` }, /^id:/],
  ['id nil', { ...chess, id: '00000000-0000-0000-0000-000000000000' }, /^id: the nil GUID/],
  ['description too long', { ...chess, description: 'd'.repeat(257) }, /^description: longer than 256/],
  ['description not text', { ...chess, description: 7 }, /^description: must be a string/],
  ['description control', { ...chess, description: 'a\nb' }, /^description: contains control/],
  ['data not base64', { ...chess, data: 'abc' }, /^data: is not valid base64/],
  ['data junk', { ...chess, data: '!!!!' }, /^data: is not valid base64/],
  ['data not a string', { ...chess, data: [1] }, /^data: must be a base64 string/],
  ['data over 16 KB', { ...chess, data: b64(16 * 1024 + 1) }, /^data: decodes to more than 16384/],
  ['data far over', { ...chess, data: 'A'.repeat(100_000) }, /^data: decodes to more than/],
  ['command missing', { ...chess, command: undefined }, /^command: must be an absolute path/],
  ['command relative', { ...chess, command: 'bin/chess' }, /^command: "bin\/chess" is not an absolute/],
  ['command empty', { ...chess, command: '' }, /^command:/],
  ['command NUL', { ...chess, command: '/bin/ch\0ess' }, /^command: contains a NUL/],
  ['args not a list', { ...chess, args: '--x' }, /^args: must be a list/],
  ['33 args', { ...chess, args: Array(33).fill('a') }, /^args: more than 32/],
  ['arg not text', { ...chess, args: ['a', 2] }, /^args\[1\]: must be a string/],
  ['arg over 1 KB', { ...chess, args: ['é'.repeat(513)] }, /^args\[0\]: longer than 1024 bytes/],
  ['arg NUL', { ...chess, args: ['a\0'] }, /^args\[0\]: contains a NUL/],
  ['scope unknown', { ...chess, scope: 'Everywhere' }, /^scope: must be one of None, NearMe, Internet, All/],
];

t.test('every validation error is PH_ERR_BAD_REQUEST naming the field; nothing written', async (t) => {
  const dir = t.testdir();
  const { apps, events } = await hub(dir);
  for (const [name, input, message] of bad) {
    await t.rejects(apps.register(input), { code: 'PH_ERR_BAD_REQUEST', statusCode: 400, message }, name);
  }
  t.same(events, []);
  t.same(readdirSync(dir), [], 'no file written');
  const edge = await apps.register({
    ...chess,
    description: 'd'.repeat(256),
    data: b64(16 * 1024),
    args: Array(32).fill('a'.repeat(1024)),
  });
  t.equal(edge.args.length, 32, 'limits themselves are allowed');
});

t.test('listFor: by scope, and never the command or its arguments', async (t) => {
  const { apps } = await hub(t.testdir());
  const scopes = ['None', 'NearMe', 'Internet', 'All'] as const;
  for (const [i, scope] of scopes.entries()) {
    await apps.register({ ...chess, id: guid(i + 1), description: scope, scope, data: b64(10) });
  }
  const names = (vis: Parameters<Applications['listFor']>[0]) => apps.listFor(vis).map((v) => v.description);
  t.same(names('contact'), ['Internet', 'All']);
  t.same(names('nearby'), ['NearMe', 'All']);
  t.same(names(['contact', 'nearby']), ['NearMe', 'Internet', 'All']);
  t.same(names([]), []);
  const views = apps.listFor(['contact', 'nearby']);
  t.same(views[0], { id: guid(2), description: 'NearMe', scope: 'NearMe', dataSize: 10 });
  for (const v of views) t.same(Object.keys(v).sort(), ['dataSize', 'description', 'id', 'scope']);
  t.notMatch(JSON.stringify(views), /chess|--session/, 'no command, no arguments');
  // The peer API's getter accepts the views as they are.
  const getter: PeerApiDeps['applications'] = () => apps.listFor('contact');
  t.equal(getter('AAAAAAA').length, 2);
});

t.test('persists across reopen', async (t) => {
  const dir = t.testdir();
  const first = await hub(dir);
  await first.apps.register(chess);
  await first.apps.register({ id: DRAW, command: '/opt/draw', scope: 'NearMe' });
  const before = first.apps.list();
  await first.apps.close();
  t.throws(() => first.apps.list(), code('PH_ERR_INTERNAL'), 'closed');
  const again = await hub(dir);
  t.same(again.apps.list(), before);
  t.same(again.events, [], 'loading emits nothing');
});

t.test('a corrupt file is handled by the store: quarantined, .bak used or a clear error', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'applications.json');
  const first = await hub(dir);
  await first.apps.register(chess);
  await first.apps.register({ id: DRAW, command: '/opt/draw' });
  await first.apps.close();
  writeFileSync(file, '{"version":1,"applications":[{"id":');
  const recovered = await hub(dir);
  t.same(
    recovered.apps.list().map((a) => a.id),
    [CHESS],
    'the last good copy',
  );
  t.ok(
    readdirSync(dir).some((f) => f.startsWith('applications.json.corrupt-')),
    'bad file kept aside',
  );
  await recovered.apps.close();

  const dir2 = t.testdir();
  const bad = {
    version: 1,
    applications: [{ ...chess, id: CHESS, command: 'relative', registeredAt: 1, updatedAt: 1 }],
  };
  writeFileSync(join(dir2, 'applications.json'), JSON.stringify(bad));
  const broken = createApplications(
    { logger: silentLogger(), clock: new ManualClock(), bus: { emit: () => undefined } },
    { file: join(dir2, 'applications.json') },
  );
  await t.rejects(broken.open(), code('PH_ERR_STORE_CORRUPT', /command/));

  const dir3 = t.testdir();
  const twice = { version: 1, applications: [0, 1].map(() => ({ ...bad.applications[0], command: '/x' })) };
  writeFileSync(join(dir3, 'applications.json'), JSON.stringify(twice));
  const dup = createApplications(
    { logger: silentLogger(), clock: new ManualClock(), bus: { emit: () => undefined } },
    { file: join(dir3, 'applications.json') },
  );
  await t.rejects(dup.open(), code('PH_ERR_STORE_CORRUPT', /listed twice/));
});

t.test('a failed write changes nothing and emits nothing', async (t) => {
  let fail = false;
  const fs = recordingFs([], (op) => (fail && op === 'rename' ? fsError('ENOSPC', 'rename') : undefined));
  const { apps, events } = await hub(t.testdir(), fs);
  await apps.register(chess);
  fail = true;
  await t.rejects(apps.register({ id: DRAW, command: '/opt/draw' }), code('PH_ERR_STORE_WRITE'));
  await t.rejects(apps.unregister(CHESS), code('PH_ERR_STORE_WRITE'));
  t.same(
    apps.list().map((a) => a.id),
    [CHESS],
  );
  t.equal(events.length, 1);
});

t.test('unknownApplication: the decline reason', async (t) => {
  t.equal(unknownApplication(CHESS), `application ${CHESS} is not registered on this hub`);
});
