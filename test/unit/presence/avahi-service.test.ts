/**
 * The Avahi backend's shell against a fake avahi-daemon on a fake bus (no D-Bus here): the calls it
 * makes, the early-signal race, rows and events, collisions, the daemon and the bus going away; and
 * the backend choice (select.ts).
 */
import t from 'tap';
import { ManualClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { GROUP, SERVER } from '../../../firmware/presence/avahi/constants.js';
import type { BusLink, Signal } from '../../../firmware/presence/avahi/dbus.js';
import { AvahiPresence } from '../../../firmware/presence/avahi/service.js';
import { announcementTxt } from '../../../firmware/presence/avahi/txt.js';
import { createPresence, createTestLan } from '../../../firmware/presence/index.js';
import type { Announcement, PresenceEvents } from '../../../firmware/presence/types.js';
import { ann } from './fixtures/announcement.js';

const AV = 'org.freedesktop.Avahi';
const GROUP_PATH = '/Client1/EntryGroup1';
const BROWSER_PATH = '/Client1/ServiceBrowser1';
const BOB = 'EEEE-FFFF-GGGG-HHHH';

interface Call {
  path: string;
  member: string;
  body: unknown[];
}

/** A fake avahi-daemon behind a fake bus. Browser items are signalled before the creation reply (avahi#9). */
class FakeAvahi {
  owned = true;
  state: number = SERVER.RUNNING;
  answer = true;
  items: string[] = [];
  calls: Call[] = [];
  links = 0;
  private listeners: Array<(s: Signal) => void> = [];
  private closers: Array<(e?: Error) => void> = [];
  private resolvers = 0;
  resolverPaths = new Map<string, string>(); // name → path

  link = (): BusLink => {
    this.links++;
    this.listeners = [];
    this.closers = [];
    return {
      call: (_dest, path, _iface, member, _sig, body = []) => this.handle(path, member, body),
      addMatch: async () => undefined,
      onSignal: (fn) => void this.listeners.push(fn),
      onClose: (fn) => void this.closers.push(fn),
      close: async () => undefined,
    };
  };

  private async handle(path: string, member: string, body: unknown[]): Promise<unknown[]> {
    this.calls.push({ path, member, body });
    if (!this.answer) return new Promise(() => undefined);
    if (member === 'NameHasOwner') return [this.owned];
    if (!this.owned)
      throw Object.assign(new Error('no'), { dbusName: 'org.freedesktop.DBus.Error.ServiceUnknown' });
    switch (member) {
      case 'GetState':
        return [this.state];
      case 'GetVersionString':
        return ['avahi 0.8'];
      case 'GetHostName':
        return ['avahihost'];
      case 'GetNetworkInterfaceIndexByName':
        return [2];
      case 'EntryGroupNew':
        return [GROUP_PATH];
      case 'ServiceBrowserNew':
        for (const name of this.items) this.item('ItemNew', name);
        return [BROWSER_PATH];
      case 'ServiceResolverNew': {
        const p = `/Client1/ServiceResolver${++this.resolvers}`;
        this.resolverPaths.set(String(body[2]), p);
        return [p];
      }
      default:
        return [];
    }
  }

  emit(path: string, iface: string, member: string, body: unknown[], sender = ':1.5'): void {
    for (const fn of this.listeners) fn({ sender, path, iface, member, body });
  }
  item(member: 'ItemNew' | 'ItemRemove', name: string, flags = 4): void {
    this.emit(BROWSER_PATH, 'org.freedesktop.Avahi.ServiceBrowser', member, [
      2,
      0,
      name,
      '_peerhub._tcp',
      'local',
      flags,
    ]);
  }
  found(name: string, a: Partial<Announcement>, address = '10.77.0.2'): void {
    const p = this.resolverPaths.get(name) as string;
    const txt = announcementTxt(ann({ peerId: BOB, nickname: name, ...a }));
    this.emit(p, 'org.freedesktop.Avahi.ServiceResolver', 'Found', [
      2,
      0,
      name,
      '_peerhub._tcp',
      'local',
      'bob-host.local',
      0,
      address,
      7443,
      txt,
      4,
    ]);
  }
  groupState(state: number): void {
    this.emit(GROUP_PATH, 'org.freedesktop.Avahi.EntryGroup', 'StateChanged', [state, '']);
  }
  owner(newOwner: string): void {
    this.owned = newOwner !== '';
    this.emit(
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus',
      'NameOwnerChanged',
      [AV, '', newOwner],
      'org.freedesktop.DBus',
    );
  }
  dropBus(): void {
    for (const fn of this.closers) fn(new Error('ECONNRESET'));
  }
  members(): string[] {
    return this.calls.map((c) => c.member);
  }
  last(member: string): Call | undefined {
    return this.calls.filter((c) => c.member === member).at(-1);
  }
}

function recorder() {
  const events: Array<{ type: string; data: unknown }> = [];
  return {
    events,
    bus: { emit: (type: string, data: unknown) => void events.push({ type, data }) },
    types: () => events.map((e) => e.type),
    take: () => events.splice(0).map((e) => e.type),
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

function setup() {
  const fake = new FakeAvahi();
  const clock = new ManualClock();
  const rec = recorder();
  const svc = new AvahiPresence(
    { clock, logger: silentLogger(), bus: rec.bus as never, connect: fake.link },
    { interface: 'eth0' },
  );
  return { fake, clock, rec, svc };
}

t.test(
  'publish: AddService on the interface, ESTABLISHED → announced, TXT change → UpdateServiceTxt',
  async (t) => {
    const { fake, rec, svc } = setup();
    await svc.start();
    t.same(fake.members().slice(0, 7), [
      'NameHasOwner',
      'GetState',
      'GetVersionString',
      'GetHostName',
      'GetNetworkInterfaceIndexByName',
      'EntryGroupNew',
      'ServiceBrowserNew',
    ]);
    t.same(fake.last('ServiceBrowserNew')?.body, [2, 0, '_peerhub._tcp', '', 0]);
    svc.announce(ann());
    await flush();
    const add = fake.last('AddService');
    t.same(add?.body.slice(0, 8), [2, 0, 0, 'Kitchen', '_peerhub._tcp', '', '', 7443]);
    t.same((add?.body[8] as Buffer[]).map(String), ['v=1', 'id=AAAA-BBBB-CCCC-DDDD', 'st=Online', 'seq=1']);
    t.same(fake.members().slice(-3), ['Reset', 'AddService', 'Commit']);
    fake.groupState(GROUP.ESTABLISHED);
    t.same(rec.events.at(-1), {
      type: 'presence:announced',
      data: { instance: 'Kitchen', host: 'avahihost' },
    });
    t.same(svc.names(), { instance: 'Kitchen', host: 'avahihost' });
    svc.announce(ann({ status: 'Busy', seq: 2 }));
    await flush();
    t.equal(fake.members().at(-1), 'UpdateServiceTxt');
    t.same((fake.last('UpdateServiceTxt')?.body[6] as Buffer[]).map(String)[2], 'st=Busy');
    t.equal(fake.members().filter((m) => m === 'AddService').length, 1, 'not re-added');
    t.equal(svc.counters().txtUpdates, 1);

    fake.groupState(GROUP.COLLISION);
    await flush();
    t.same(rec.events.at(-1), {
      type: 'presence:renamed',
      data: { kind: 'instance', from: 'Kitchen', to: 'Kitchen (2)' },
    });
    t.equal(fake.last('AddService')?.body[3], 'Kitchen (2)');
    await svc.withdraw();
    t.equal(fake.members().at(-1), 'Reset');
    t.same(rec.events.at(-1), { type: 'presence:withdrawn', data: { instance: 'Kitchen (2)' } });
    await svc.stop();
    t.equal(fake.members().at(-1), 'Free');
  },
);

t.test(
  'browse: items signalled before the browser path is known are not lost; rows and events',
  async (t) => {
    const { fake, rec, svc } = setup();
    fake.items = ['Bob', 'Own'];
    await svc.start();
    await flush();
    t.ok(fake.resolverPaths.has('Bob'), 'the early ItemNew was replayed and resolved');
    fake.found('Bob', { status: 'Away', seq: 5 });
    t.same(rec.take(), ['peer:found']);
    const row = svc.peers()[0];
    t.match(row, {
      instance: 'Bob',
      id: BOB,
      status: 'Away',
      seq: 5,
      host: 'bob-host.local',
      port: 7443,
      wellFormed: true,
    });
    t.same(row?.endpoints, ['10.77.0.2:7443']);

    fake.found('Bob', { status: 'Busy', seq: 6 }); // the resolver follows a TXT update
    t.same(rec.take(), ['peer:changed']);
    t.equal(svc.peers()[0]?.status, 'Busy');

    fake.item('ItemNew', 'Mine', 4 | 16); // our own service (RESULT_OUR_OWN)
    await flush();
    t.notOk(fake.resolverPaths.has('Mine'), 'our own entry is not resolved');

    fake.item('ItemRemove', 'Bob');
    t.same(rec.events.at(-1)?.type, 'peer:lost');
    t.match(rec.events.at(-1)?.data, { reason: 'goodbye', peer: { id: BOB } });
    t.same(svc.peers(), []);
    await svc.stop();
  },
);

t.test('avahi-daemon gone → peers lost; back → browser and group re-created, re-published', async (t) => {
  const { fake, rec, svc } = setup();
  fake.items = ['Bob'];
  await svc.start();
  await flush();
  fake.found('Bob', {});
  svc.announce(ann());
  await flush();
  fake.groupState(GROUP.ESTABLISHED);
  rec.take();

  fake.owner('');
  t.same(
    rec.events.map((e) => e.type),
    ['peer:lost'],
  );
  t.match(rec.events[0]?.data, { reason: 'failure' });
  t.equal(svc.counters().daemonLost, 1);
  svc.announce(ann({ status: 'Away', seq: 2 })); // while gone: no call, no throw
  await flush();
  rec.take();

  const before = fake.calls.length;
  fake.state = SERVER.REGISTERING;
  fake.owner(':1.9');
  await flush();
  t.notOk(
    fake.calls.slice(before).some((c) => c.member === 'AddService'),
    'waits for RUNNING',
  );
  fake.state = SERVER.RUNNING;
  fake.emit('/', 'org.freedesktop.Avahi.Server', 'StateChanged', [SERVER.RUNNING, '']);
  await flush();
  const after = fake.calls.slice(before).map((c) => c.member);
  t.ok(after.includes('EntryGroupNew') && after.includes('ServiceBrowserNew'), 'objects re-created');
  t.same(
    (fake.last('AddService')?.body[8] as Buffer[]).map(String)[2],
    'st=Away',
    'current presence published',
  );
  t.ok(fake.resolverPaths.has('Bob'));
  fake.found('Bob', {});
  fake.groupState(GROUP.ESTABLISHED);
  t.same(rec.take(), ['peer:found', 'presence:announced']);
  await svc.stop();
});

t.test('the bus going away: reconnect with backoff, publish again; never throws', async (t) => {
  const { fake, clock, rec, svc } = setup();
  await svc.start();
  svc.announce(ann());
  await flush();
  fake.groupState(GROUP.ESTABLISHED);
  const adds = fake.members().filter((m) => m === 'AddService').length;
  fake.dropBus();
  t.equal(svc.counters().busLost, 1);
  t.equal(fake.links, 1);
  clock.advance(999);
  t.equal(fake.links, 1, 'not before the backoff');
  clock.advance(1);
  await flush();
  t.equal(fake.links, 2, 'reconnected');
  t.equal(fake.members().filter((m) => m === 'AddService').length, adds + 1, 'published again');
  fake.groupState(GROUP.ESTABLISHED);
  t.equal(rec.types().filter((x) => x === 'presence:announced').length, 2);
  await svc.stop();
});

t.test(
  'select: auto → avahi when it answers, else multicast-dns; avahi forced falls back; a transport means multicast-dns',
  async (t) => {
    const clock = new ManualClock();
    const lines: Array<Record<string, unknown>> = [];
    const deps = (fake: FakeAvahi) => ({
      clock,
      logger: silentLogger(lines),
      bus: recorder().bus as { emit(type: keyof PresenceEvents & string, data: never): unknown },
      connectBus: fake.link,
    });
    const up = new FakeAvahi();
    t.equal((await createPresence(deps(up), { backend: 'auto' })).backend, 'avahi');
    t.equal((await createPresence(deps(up), { backend: 'multicast-dns' })).backend, 'multicast-dns');

    const absent = new FakeAvahi();
    absent.owned = false;
    t.equal((await createPresence(deps(absent), { backend: 'auto' })).backend, 'multicast-dns');
    t.equal((await createPresence(deps(absent), { backend: 'avahi' })).backend, 'multicast-dns');
    t.ok(
      lines.some((l) => l.level === 'warn' && /falling back to multicast-dns/.test(String(l.msg))),
      'forced avahi falls back with a warning',
    );

    const silent = new FakeAvahi();
    silent.answer = false;
    const t0 = Date.now();
    t.equal(
      (await createPresence(deps(silent), { backend: 'auto', probeTimeoutMs: 100 })).backend,
      'multicast-dns',
    );
    t.ok(Date.now() - t0 < 5000, 'a daemon that does not answer costs the probe timeout only');

    const lan = createTestLan({ clock });
    const withTransport = await createPresence(
      { ...deps(up), transport: lan.transport('10.77.0.1') },
      { backend: 'avahi' },
    );
    t.equal(withTransport.backend, 'multicast-dns');
  },
);
