import t from 'tap';
import { readFileSync } from 'node:fs';
import type { NearbyPeer } from '../../../firmware/presence/types.js';
import { fsError, recordingFs } from '../store/helpers.js';
import { cardOf, hub, person, T0 } from './helpers.js';

const [me, ada, bob, eve] = await Promise.all([person(), person(), person(), person()]);
if (!me || !ada || !bob || !eve) throw new Error('identities');

const code = (c: string) => ({ code: c });

t.test('add, list, get, update, subscription, verify, remove: each with its event', async (t) => {
  const h = await hub(t.testdir(), me, 'Me');
  const { manager: m, events, clock } = h;
  t.same(m.list(), []);
  t.same(m.me().peerId, me.peerId);
  t.equal(m.me().nickname, 'Me');

  const added = await m.add(
    cardOf(ada, 'Ada', { email: 'ada@example.org', endpoints: ['Ada.Example.org:7443'] }),
  );
  t.match(added, {
    peerId: ada.peerId,
    nickname: 'Ada',
    subscription: 'allowed',
    addedAt: T0,
    verifiedAt: null,
  });
  t.same(added.endpoints, ['ada.example.org:7443'], 'endpoints normalized');
  t.same(
    events.map((e) => e.type),
    ['contact:added'],
  );
  t.notOk(
    'rootCertPem' in (events[0]?.data as object as { contact: object }).contact,
    'events carry no certificate',
  );

  clock.advance(1000);
  const u = await m.update('Ada', { displayName: 'Ada Lovelace', email: 'ada@example.org' });
  t.equal(u.displayName, 'Ada Lovelace');
  t.equal(u.updatedAt, T0 + 1000);
  t.match(events[1], { type: 'contact:updated', data: { changed: ['displayName'] } });
  await m.update('Ada', { displayName: 'Ada Lovelace' });
  t.equal(events.length, 2, 'a no-op update writes nothing and emits nothing');

  await m.setSubscription('Ada', 'blocked');
  t.equal(m.get('Ada').subscription, 'blocked');
  t.match(events[2], { type: 'contact:updated', data: { changed: ['subscription'] } });
  await m.setSubscription('ada', 'allowed');
  t.equal(m.get('Ada').subscription, 'allowed');

  clock.advance(500);
  t.equal((await m.markVerified(ada.peerId)).verifiedAt, T0 + 1500);
  t.match(events[4], { type: 'contact:updated', data: { changed: ['verifiedAt'] } });

  // byPeerId: the same contact as get() (a copy: changing it changes nothing), by canonical id only.
  t.same(m.byPeerId(ada.peerId), m.get('Ada'));
  m.byPeerId(ada.peerId)!.nickname = 'Mallory';
  t.equal(m.get(ada.peerId).nickname, 'Ada', 'a copy');
  t.equal(m.byPeerId(bob.peerId), undefined, 'not a contact');
  t.equal(m.byPeerId('Ada'), undefined, 'an id, not a nickname');

  const gone = await m.remove('Ada');
  t.equal(m.byPeerId(ada.peerId), undefined, 'removed');
  t.equal(gone.peerId, ada.peerId);
  t.match(events[5], { type: 'contact:deleted', data: { contact: { peerId: ada.peerId } } });
  t.same(m.list(), []);
  await t.rejects(m.remove('Ada'), code('PH_ERR_CONTACT_NOT_FOUND'));
  await m.close();
});

t.test('lookup by full id, peer name, short id, id prefix, nickname', async (t) => {
  const { manager: m } = await hub(t.testdir(), me, 'Me');
  await m.add(cardOf(ada, 'Ada'));
  await m.add(cardOf(bob, 'Bob'));
  const id = ada.peerId;
  const keys = [
    id,
    id.toLowerCase(),
    id.replace(/-/g, ''),
    ` ${id} `,
    `${id}.kitchen-hub`,
    id.slice(0, 7),
    id.slice(0, 7).toLowerCase(),
    id.slice(0, 12),
    'Ada',
    'ADA',
  ];
  for (const k of keys) t.equal(m.get(k).peerId, id, `get(${JSON.stringify(k)})`);
  t.throws(() => m.get(id.slice(0, 6)), code('PH_ERR_CONTACT_NOT_FOUND'), '6 characters are not enough');
  t.throws(() => m.get('Carol'), { code: 'PH_ERR_CONTACT_NOT_FOUND', statusCode: 404 });
  t.throws(() => m.get(''), code('PH_ERR_CONTACT_NOT_FOUND'));
  t.throws(() => m.get(eve.peerId), code('PH_ERR_CONTACT_NOT_FOUND'), 'a valid id of nobody we know');

  await m.update('Bob', { nickname: 'ada' });
  t.throws(() => m.get('Ada'), { code: 'PH_ERR_CONTACT_AMBIGUOUS', message: /2 contacts/ });
  t.equal(m.get(bob.peerId).nickname, 'ada', 'a full id is never ambiguous');
  // A nickname that is another contact's short id: both match, so it is ambiguous, never a silent pick.
  await m.update(bob.peerId, { nickname: id.slice(0, 7) });
  t.throws(() => m.get(id.slice(0, 7)), code('PH_ERR_CONTACT_AMBIGUOUS'));
  await m.close();
});

t.test('refused adds: duplicate, myself, mismatched certificate, bad fields', async (t) => {
  const { manager: m, events, file } = await hub(t.testdir(), me, 'Me');
  await m.add(cardOf(ada, 'Ada'));
  const before = readFileSync(file);
  await t.rejects(m.add(cardOf(ada, 'Ada again')), { code: 'PH_ERR_CONTACT_EXISTS', statusCode: 409 });
  await t.rejects(m.add(cardOf(me, 'Me')), code('PH_ERR_CONTACT_SELF'));
  await t.rejects(m.add({ ...cardOf(bob, 'Bob'), rootCertPem: eve.rootCertPem }), {
    code: 'PH_ERR_CONTACT_CERT_MISMATCH',
    message: /not from the peer it names/,
  });
  const bad: Array<[string, object]> = [
    ['empty nickname', { nickname: '  ' }],
    ['nickname of 64 characters', { nickname: 'x'.repeat(64) }],
    ['control character', { nickname: 'a\u0007b' }],
    ['display name of 129', { displayName: 'y'.repeat(129) }],
    ['e-mail', { email: 'not an address' }],
    ['endpoint without port', { endpoints: ['example.org'] }],
    ['endpoint port 0', { endpoints: ['example.org:0'] }],
    ['endpoint port 65536', { endpoints: ['example.org:65536'] }],
    ['endpoint bad IPv4', { endpoints: ['300.1.1.1:7443'] }],
    ['endpoint bare IPv6', { endpoints: ['fe80::1:7443'] }],
    ['17 endpoints', { endpoints: Array.from({ length: 17 }, (_, i) => `h${i}.example.org:1`) }],
    ['peer id typo', { peerId: `${bob.peerId.slice(0, -1)}${bob.peerId.endsWith('A') ? 'B' : 'A'}` }],
  ];
  for (const [name, patch] of bad) {
    await t.rejects(
      m.add({ ...cardOf(bob, 'Bob'), ...patch }),
      { code: 'PH_ERR_CONTACT_INVALID', statusCode: 400 },
      name,
    );
  }
  await t.rejects(m.add(null), code('PH_ERR_CONTACT_INVALID'));
  await t.rejects(m.update('Ada', { nickname: '' }), code('PH_ERR_CONTACT_INVALID'));
  await t.rejects(
    m.update('Ada', { rootCertPem: eve.rootCertPem } as object),
    code('PH_ERR_CONTACT_INVALID'),
  );
  await t.rejects(m.setSubscription('Ada', 'maybe' as 'allowed'), code('PH_ERR_CONTACT_INVALID'));
  t.same(readFileSync(file), before, 'the file is unchanged');
  t.equal(events.length, 1, 'only the first add emitted');
  const ok = await m.add(
    cardOf(bob, 'Bob', { endpoints: ['[FE80::1]:7443', '10.0.0.2:7443', '10.0.0.2:7443'] }),
  );
  t.same(ok.endpoints, ['[fe80::1]:7443', '10.0.0.2:7443'], 'IPv6 in brackets, duplicates dropped');
  await m.close();
});

function nearby(id: string | null, verified = true): NearbyPeer {
  return {
    instance: 'Ada',
    id,
    nickname: 'Ada',
    status: 'Online',
    seq: 1,
    host: 'ada.local',
    port: 7443,
    endpoints: ['10.77.0.2:7443'],
    wellFormed: verified,
    txt: {},
    firstSeen: T0,
    lastSeen: T0,
  };
}

t.test('add from a nearby peer: the served root must hash to the id presence showed', async (t) => {
  const { manager: m, events } = await hub(t.testdir(), me, 'Me');
  const asked: string[] = [];
  const serve = (card: unknown) => async (p: NearbyPeer) => {
    asked.push(p.instance);
    return card;
  };
  await t.rejects(m.addFromNearby(nearby(ada.peerId), serve(cardOf(eve, 'Ada'))), {
    code: 'PH_ERR_CONTACT_CERT_MISMATCH',
    message: /announced peer .* but served the card of/,
  });
  await t.rejects(
    m.addFromNearby(nearby(ada.peerId), serve({ ...cardOf(ada, 'Ada'), rootCertPem: eve.rootCertPem })),
    code('PH_ERR_CONTACT_CERT_MISMATCH'),
  );
  await t.rejects(m.addFromNearby(nearby(null), serve(cardOf(ada, 'Ada'))), code('PH_ERR_CONTACT_INVALID'));
  await t.rejects(
    m.addFromNearby(nearby(ada.peerId, false), serve(cardOf(ada, 'Ada'))),
    code('PH_ERR_CONTACT_INVALID'),
  );
  const down = async (): Promise<never> => {
    throw new Error('connect ECONNREFUSED 10.77.0.2:7443');
  };
  await t.rejects(m.addFromNearby(nearby(ada.peerId), down), {
    code: 'PH_ERR_CONTACT_FETCH',
    statusCode: 502,
    message: /fetch the card of Ada .*ECONNREFUSED/,
  });
  t.same(events, [], 'nothing added');
  // The shape the peer API serves (firmware/wire CardBody): classifier and peerName, no e-mail.
  const wireCard = {
    peerId: ada.peerId,
    nickname: 'Ada',
    classifier: 'kitchen-hub',
    peerName: `${ada.peerId}.kitchen-hub`,
    rootCertPem: ada.rootCertPem,
    endpoints: ['ada.example.org:7443'],
  };
  const c = await m.addFromNearby(nearby(ada.peerId), serve(wireCard));
  t.equal(c.peerId, ada.peerId);
  t.same(asked, ['Ada', 'Ada', 'Ada'], 'fetched only for peerhub announcements with an id');
  t.same(
    events.map((e) => e.type),
    ['contact:added'],
  );
  await m.close();
});

t.test('persistence across reopen; the file is versioned', async (t) => {
  const dir = t.testdir();
  const a = await hub(dir, me, 'Me');
  await a.manager.add(cardOf(ada, 'Ada', { displayName: 'Ada L.' }));
  await a.manager.add(cardOf(bob, 'Bob'));
  await a.manager.setSubscription('Bob', 'blocked');
  await a.manager.markVerified('Ada');
  const list = a.manager.list();
  await a.manager.close();
  t.throws(() => a.manager.list(), code('PH_ERR_INTERNAL'), 'closed');
  const onDisk = JSON.parse(readFileSync(a.file, 'utf8'));
  t.equal(onDisk.version, 1);
  t.equal(onDisk.contacts.length, 2);

  const b = await hub(dir, me, 'Me');
  t.same(b.manager.list(), list, 'same contacts after reopening');
  t.equal(b.manager.get('Bob').subscription, 'blocked');
  await b.manager.close();
});

t.test('a failed write changes nothing: not in memory, not on disk, no event', async (t) => {
  const dir = t.testdir();
  let fail = false;
  const fs = recordingFs([], (op) => (fail && op === 'rename' ? fsError('ENOSPC', 'rename') : undefined));
  const { manager: m, events, file } = await hub(dir, me, 'Me', fs);
  await m.add(cardOf(ada, 'Ada'));
  const bytes = readFileSync(file);
  fail = true;
  await t.rejects(m.add(cardOf(bob, 'Bob')), { code: 'PH_ERR_STORE_WRITE', message: /ENOSPC/ });
  await t.rejects(m.update('Ada', { nickname: 'Ada2' }), code('PH_ERR_STORE_WRITE'));
  await t.rejects(m.remove('Ada'), code('PH_ERR_STORE_WRITE'));
  t.same(
    m.list().map((c) => c.nickname),
    ['Ada'],
  );
  t.same(readFileSync(file), bytes);
  t.equal(events.length, 1);
  fail = false;
  await m.add(cardOf(bob, 'Bob'));
  t.equal(m.list().length, 2, 'works again once the disk does');
  await m.close();
});

t.test('my own root must match my peer id', async (t) => {
  await t.rejects(
    (async () => {
      const { DefaultContactManager } = await import('../../../firmware/contacts/index.js');
      const { silentLogger } = await import('../../../firmware/core/logger.js');
      const { ManualClock } = await import('../../../firmware/core/clock.js');
      return new DefaultContactManager(
        { logger: silentLogger(), bus: { emit: () => undefined }, clock: new ManualClock() },
        {
          file: `${t.testdir()}/c.json`,
          me: { peerId: me.peerId, nickname: 'Me', rootCertPem: ada.rootCertPem, endpoints: [] },
        },
      );
    })(),
    code('PH_ERR_INTERNAL'),
  );
});

t.test('nfc(): ASCII is returned as is, other text is composed', async (t) => {
  const { nfc } = await import('../../../firmware/contacts/fields.js');
  t.equal(nfc('Kitchen 2'), 'Kitchen 2');
  t.equal(nfc('Cafe\u0301'), 'Caf\u00e9', 'e + combining acute → é');
  t.equal(nfc('Caf\u00e9'), 'Caf\u00e9');
});
