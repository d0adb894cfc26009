/**
 * The Avahi PresenceService: publishes through an EntryGroup and browses through a ServiceBrowser and
 * one ServiceResolver per instance, over D-Bus, when avahi-daemon owns the host's mDNS (no second
 * responder on 5353). The pure parts are publish-machine.ts (publishing, renames) and rows.ts (People
 * Near Me rows); this file carries out calls, signals and timers, and survives the daemon or the bus
 * going away: peers are marked lost, and everything is re-created and re-published when it is back.
 */
import type { Clock } from '../../core/clock.js';
import { PeerhubError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { showPeers } from '../peers.js';
import { Timers } from '../shell.js';
import type {
  Announcement,
  Emitter,
  LostReason,
  NearbyPeer,
  PresenceEvents,
  PresenceService,
} from '../types.js';
import {
  AVAHI_NAME,
  AVAHI_SERVER_PATH,
  AVAHI_SERVICE_TYPE,
  CALL_TIMEOUT_MS,
  DBUS_NAME,
  GROUP,
  GROUP_RETRY_MS,
  IFACE,
  IF_UNSPEC,
  PROTO_INET,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  RESOLVE_RETRIES,
  RESOLVE_RETRY_MS,
  RESULT_OUR_OWN,
  SERVER,
  STOP_CALL_TIMEOUT_MS,
} from './constants.js';
import { connectBus, dbusErrorName, type BusLink, type Signal } from './dbus.js';
import {
  initialPublishState,
  publishStep,
  type PublishEffect,
  type PublishEvent,
} from './publish-machine.js';
import { buildTable, entryKey, type BrowseEntry } from './rows.js';
import { txtFromDbus } from './txt.js';

export interface AvahiPresenceDeps {
  clock: Clock;
  logger: Logger;
  bus: Emitter<PresenceEvents>;
  /** Opens a bus connection (default: the system bus, or `busAddress`). */
  connect?: () => BusLink;
}

export interface AvahiPresenceInit {
  /** Publish and browse on this interface only (Avahi's index for it); default all. */
  interface?: string;
  /** Ignored: Avahi publishes under the daemon's host name. Logged when set. */
  hostname?: string;
  /** D-Bus address of the system bus (default `DBUS_SYSTEM_BUS_ADDRESS` or the standard socket). */
  busAddress?: string;
}

const MAX_EARLY_SIGNALS = 512;
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));

type Counter =
  | 'dbusCalls'
  | 'dbusErrors'
  | 'signalsIn'
  | 'publishes'
  | 'txtUpdates'
  | 'collisions'
  | 'groupFailures'
  | 'resolves'
  | 'resolveFailures'
  | 'daemonLost'
  | 'busLost'
  | 'reconnects';

export class AvahiPresence implements PresenceService {
  readonly backend = 'avahi' as const;
  private readonly log: Logger;
  private readonly timers: Timers<'reconnect' | 'group-retry'>;
  private readonly connect: () => BusLink;
  private link: BusLink | null = null;
  private running = false;
  private opening: Promise<void> | null = null;
  /** Bumped whenever the daemon or the bus goes: late replies and signals of an older epoch are dropped. */
  private epoch = 0;
  private serverRunning = false;
  private settingUp: Promise<void> | null = null;
  private setupEpoch = -1;
  private host: string;
  private ifindex = IF_UNSPEC;
  private groupPath: string | null = null;
  private browserPath: string | null = null;
  private readonly resolvers = new Map<string, string>(); // resolver path → entry key
  private readonly resolverOf = new Map<string, string>(); // entry key → resolver path
  private readonly resolveAttempts = new Map<string, number>();
  private early: Signal[] = []; // signals for object paths whose creation reply has not arrived yet
  private pub = initialPublishState();
  private entries = new Map<string, BrowseEntry>();
  private table = new Map<string, NearbyPeer>();
  private readonly lostReasons = new Map<string, LostReason>();
  private queue: Promise<void> = Promise.resolve();
  private reconnectDelay = RECONNECT_MIN_MS;
  private readonly count: Record<Counter, number> = {
    dbusCalls: 0,
    dbusErrors: 0,
    signalsIn: 0,
    publishes: 0,
    txtUpdates: 0,
    collisions: 0,
    groupFailures: 0,
    resolves: 0,
    resolveFailures: 0,
    daemonLost: 0,
    busLost: 0,
    reconnects: 0,
  };

  constructor(
    private readonly deps: AvahiPresenceDeps,
    private readonly init: AvahiPresenceInit = {},
  ) {
    this.log = deps.logger;
    this.timers = new Timers(deps.clock);
    this.connect = deps.connect ?? (() => connectBus(init.busAddress));
    this.host = init.hostname ?? 'peerhub';
  }

  // ---- PresenceService ------------------------------------------------------------------------

  start(): Promise<void> {
    this.opening ??= this.open();
    return this.opening;
  }

  private async open(): Promise<void> {
    this.running = true;
    if (this.init.hostname !== undefined)
      this.log.info(
        { hostname: this.init.hostname },
        'presence.hostname is not used with Avahi: the daemon publishes its own host name',
      );
    await this.attach();
  }

  async stop(): Promise<void> {
    if (!this.opening) return;
    await this.opening.catch(() => undefined);
    this.running = false;
    this.opening = null;
    this.timers.clear();
    const link = this.link;
    const group = this.groupPath;
    this.epoch++;
    this.link = null;
    this.groupPath = null;
    this.browserPath = null;
    this.resolvers.clear();
    this.resolverOf.clear();
    this.early = [];
    this.entries = new Map();
    this.table = new Map();
    this.pub = { ...this.pub, ready: false, committed: null, established: false, announced: false };
    if (link) {
      // Free withdraws our records at once (Avahi sends the goodbyes); closing the connection would
      // make the daemon free the group as well, so a slow reply is not waited for long.
      if (group)
        await link
          .call(AVAHI_NAME, group, IFACE.entryGroup, 'Free', '', [], STOP_CALL_TIMEOUT_MS)
          .catch(() => undefined);
      await link.close();
    }
    this.log.info({}, 'Avahi presence stopped');
  }

  announce(a: Announcement): void {
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) {
      throw new PeerhubError('PH_ERR_BAD_REQUEST', `invalid port ${a.port}`, { statusCode: 400 });
    }
    this.step({ type: 'announce', a });
  }

  async withdraw(): Promise<void> {
    this.step({ type: 'withdraw' });
    await this.queue;
  }

  names(): { instance: string | null; host: string } {
    return { instance: this.pub.label, host: this.host };
  }

  peers(): NearbyPeer[] {
    return [...this.table.values()];
  }

  counters(): Record<string, number> {
    return { ...this.count, peers: this.table.size, browsing: this.entries.size };
  }

  // ---- connection and daemon lifecycle --------------------------------------------------------

  /** Connect, subscribe, and set up if the daemon is there. Never throws: failures retry later. */
  private async attach(): Promise<void> {
    if (!this.running) return;
    const link = this.connect();
    this.link = link;
    const epoch = ++this.epoch;
    link.onSignal((s) => {
      if (this.link !== link) return;
      try {
        this.onSignal(s);
      } catch (err) {
        this.count.dbusErrors++;
        this.log.error({ err: String(err), member: s.member }, 'Avahi signal handling failed');
      }
    });
    link.onClose((err) => {
      if (this.link === link) this.busLost(err);
    });
    try {
      // Subscribed before anything is created: Avahi emits a browser's first items before its
      // creation reply (avahi#9); early signals are kept until their object path is known.
      await link.addMatch(`type='signal',sender='${AVAHI_NAME}'`);
      await link.addMatch(
        `type='signal',sender='${DBUS_NAME}',interface='${DBUS_NAME}',member='NameOwnerChanged',arg0='${AVAHI_NAME}'`,
      );
      this.reconnectDelay = RECONNECT_MIN_MS;
      const owned = await this.call(DBUS_NAME, '/org/freedesktop/DBus', DBUS_NAME, 'NameHasOwner', 's', [
        AVAHI_NAME,
      ]);
      if (epoch !== this.epoch) return;
      if (owned[0] !== true) {
        this.log.warn({}, 'avahi-daemon is not on the bus: waiting for it');
        return;
      }
      await this.daemonAppeared(epoch);
    } catch (err) {
      if (epoch !== this.epoch || this.link !== link) return;
      this.log.warn({ err: dbusErrorName(err) }, 'D-Bus system bus unreachable: retrying');
      this.busLost(err as Error);
    }
  }

  private busLost(err?: Error): void {
    if (!this.running) return;
    const link = this.link;
    this.link = null;
    this.count.busLost++;
    this.log.warn(
      { err: err ? dbusErrorName(err) : undefined, retryMs: this.reconnectDelay },
      'D-Bus connection lost: peers marked lost, reconnecting',
    );
    this.daemonGone('bus');
    void link?.close();
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.timers.arm('reconnect', this.deps.clock.now() + delay, () => {
      this.count.reconnects++;
      void this.attach();
    });
  }

  /** The daemon left the bus (or the bus went): its objects are gone, so are the peers it showed. */
  private daemonGone(why: 'daemon' | 'bus'): void {
    this.epoch++;
    this.serverRunning = false;
    this.settingUp = null;
    this.groupPath = null;
    this.browserPath = null;
    this.resolvers.clear();
    this.resolverOf.clear();
    this.resolveAttempts.clear();
    this.early = [];
    this.timers.arm('group-retry', null, () => undefined);
    if (why === 'daemon') {
      this.count.daemonLost++;
      this.log.warn({}, 'avahi-daemon left the bus: peers marked lost, re-publishing when it is back');
    }
    for (const key of this.entries.keys()) this.lostReasons.set(key, 'failure');
    this.entries = new Map();
    this.refresh();
    this.step({ type: 'unready' });
  }

  private async daemonAppeared(epoch: number): Promise<void> {
    const [state] = await this.call(AVAHI_NAME, AVAHI_SERVER_PATH, IFACE.server, 'GetState');
    if (epoch !== this.epoch) return;
    if (num(state) === SERVER.RUNNING) await this.serverIsRunning(epoch);
    else this.log.info({ state: num(state) }, 'avahi-daemon is not running yet: waiting');
  }

  private serverIsRunning(epoch: number): Promise<void> {
    this.serverRunning = true;
    if (this.settingUp && this.setupEpoch === epoch) return this.settingUp;
    this.setupEpoch = epoch;
    this.settingUp = this.setUp(epoch).catch((err) => {
      this.settingUp = null;
      if (epoch !== this.epoch) return;
      this.count.dbusErrors++;
      this.log.error({ err: dbusErrorName(err) }, 'Avahi setup failed: retrying');
      this.timers.arm('group-retry', this.deps.clock.now() + GROUP_RETRY_MS, () => {
        if (epoch === this.epoch && this.serverRunning) void this.serverIsRunning(epoch);
      });
    });
    return this.settingUp;
  }

  /** Host name, interface index, entry group, browser; then publish. */
  private async setUp(epoch: number): Promise<void> {
    const [version] = await this.call(AVAHI_NAME, AVAHI_SERVER_PATH, IFACE.server, 'GetVersionString');
    const [host] = await this.call(AVAHI_NAME, AVAHI_SERVER_PATH, IFACE.server, 'GetHostName');
    if (epoch !== this.epoch) return;
    this.host = str(host);
    this.ifindex = IF_UNSPEC;
    if (this.init.interface) {
      try {
        const [index] = await this.call(
          AVAHI_NAME,
          AVAHI_SERVER_PATH,
          IFACE.server,
          'GetNetworkInterfaceIndexByName',
          's',
          [this.init.interface],
        );
        this.ifindex = num(index);
      } catch (err) {
        this.log.warn(
          { interface: this.init.interface, err: dbusErrorName(err) },
          'Avahi does not know the interface: using all',
        );
      }
    }
    if (epoch !== this.epoch) return;
    if (!this.groupPath) {
      const [path] = await this.call(AVAHI_NAME, AVAHI_SERVER_PATH, IFACE.server, 'EntryGroupNew');
      if (epoch !== this.epoch) return;
      this.groupPath = str(path);
      this.replayEarly(this.groupPath);
    }
    if (!this.browserPath) {
      const [path] = await this.call(
        AVAHI_NAME,
        AVAHI_SERVER_PATH,
        IFACE.server,
        'ServiceBrowserNew',
        'iissu',
        [this.ifindex, PROTO_INET, AVAHI_SERVICE_TYPE, '', 0],
      );
      if (epoch !== this.epoch) return;
      this.browserPath = str(path);
      this.replayEarly(this.browserPath);
    }
    this.log.info(
      { version: str(version), host: this.host, interfaceIndex: this.ifindex },
      'Avahi presence running',
    );
    this.step({ type: 'ready' });
  }

  // ---- signals --------------------------------------------------------------------------------

  private onSignal(s: Signal): void {
    if (!this.running) return;
    this.count.signalsIn++;
    if (s.iface === DBUS_NAME && s.member === 'NameOwnerChanged') {
      const [name, , owner] = s.body;
      if (name !== AVAHI_NAME) return;
      if (str(owner) === '') {
        if (this.serverRunning || this.groupPath || this.browserPath || this.entries.size > 0)
          this.daemonGone('daemon');
        else this.epoch++;
      } else {
        this.log.info({}, 'avahi-daemon is on the bus');
        const epoch = ++this.epoch;
        void this.daemonAppeared(epoch).catch((err) => {
          if (epoch !== this.epoch) return;
          this.count.dbusErrors++;
          this.log.warn({ err: dbusErrorName(err) }, 'avahi-daemon does not answer');
        });
      }
      return;
    }
    if (s.iface === IFACE.server && s.member === 'StateChanged') return this.onServerState(num(s.body[0]));
    if (s.iface === IFACE.entryGroup && s.member === 'StateChanged') {
      if (s.path !== this.groupPath) return this.keepEarly(s);
      return this.step({ type: 'group-state', state: num(s.body[0]), error: str(s.body[1]) });
    }
    if (s.iface === IFACE.serviceBrowser) {
      if (s.path !== this.browserPath) return this.keepEarly(s);
      if (s.member === 'ItemNew') return this.itemNew(s.body);
      if (s.member === 'ItemRemove') return this.itemRemove(s.body);
      if (s.member === 'Failure') this.log.warn({ err: str(s.body[0]) }, 'Avahi service browser failed');
      return;
    }
    if (s.iface === IFACE.serviceResolver) {
      const key = this.resolvers.get(s.path);
      if (key === undefined) return this.keepEarly(s);
      if (s.member === 'Found') return this.found(key, s.body);
      if (s.member === 'Failure') return this.resolveFailed(key, s.path, str(s.body[0]));
    }
  }

  private keepEarly(s: Signal): void {
    this.early.push(s);
    if (this.early.length > MAX_EARLY_SIGNALS) this.early.shift();
  }

  private replayEarly(path: string): void {
    const mine = this.early.filter((s) => s.path === path);
    if (mine.length === 0) return;
    this.early = this.early.filter((s) => s.path !== path);
    for (const s of mine) this.onSignal(s);
  }

  private onServerState(state: number): void {
    if (state === SERVER.RUNNING) {
      if (!this.serverRunning) void this.serverIsRunning(this.epoch);
      return;
    }
    if (!this.serverRunning) return;
    // Host name conflict or re-registration: Avahi drops our entries; re-added once RUNNING again.
    this.log.info({ state }, 'avahi-daemon is not RUNNING: publishing again once it is');
    this.serverRunning = false;
    this.settingUp = null;
    this.step({ type: 'unready' });
  }

  // ---- browsing -------------------------------------------------------------------------------

  private itemNew(body: unknown[]): void {
    const [iface, proto, name, , , flags] = body;
    const label = str(name);
    const key = entryKey(label);
    let e = this.entries.get(key);
    if (!e) {
      e = { name: label, where: new Set(), ours: false, resolved: null, firstSeen: this.deps.clock.now() };
      this.entries.set(key, e);
    }
    e.where.add(`${num(iface)}/${num(proto)}`);
    if ((num(flags) & RESULT_OUR_OWN) !== 0) e.ours = true;
    if (!this.resolverOf.has(key) && !e.ours) this.resolve(key, num(iface), num(proto), label);
  }

  private itemRemove(body: unknown[]): void {
    const [iface, proto, name] = body;
    const key = entryKey(str(name));
    const e = this.entries.get(key);
    if (!e) return;
    e.where.delete(`${num(iface)}/${num(proto)}`);
    if (e.where.size > 0) return;
    this.entries.delete(key);
    this.resolveAttempts.delete(key);
    this.freeResolver(key);
    this.lostReasons.set(key, 'goodbye');
    this.refresh();
  }

  /** A ServiceResolver per instance: it keeps following the instance's records (a TXT update re-signals Found). */
  private resolve(key: string, iface: number, proto: number, name: string): void {
    const epoch = this.epoch;
    const link = this.link;
    if (!link) return;
    this.resolverOf.set(key, '');
    this.count.resolves++;
    this.call(AVAHI_NAME, AVAHI_SERVER_PATH, IFACE.server, 'ServiceResolverNew', 'iisssiu', [
      iface,
      proto,
      name,
      AVAHI_SERVICE_TYPE,
      'local',
      proto,
      0,
    ]).then(
      ([path]) => {
        if (epoch !== this.epoch) return;
        const p = str(path);
        if (!this.entries.has(key) || this.resolverOf.get(key) !== '') {
          void link.call(AVAHI_NAME, p, IFACE.serviceResolver, 'Free').catch(() => undefined);
          return;
        }
        this.resolverOf.set(key, p);
        this.resolvers.set(p, key);
        this.replayEarly(p);
      },
      (err) => {
        if (epoch !== this.epoch) return;
        this.resolverOf.delete(key);
        this.retryResolve(key, dbusErrorName(err));
      },
    );
  }

  private found(key: string, body: unknown[]): void {
    const e = this.entries.get(key);
    if (!e) return;
    const [, , , , , host, aprotocol, address, port, txt] = body;
    e.resolved = {
      host: str(host),
      aprotocol: num(aprotocol),
      address: str(address),
      port: num(port),
      txt: txtFromDbus(txt),
      at: this.deps.clock.now(),
    };
    this.resolveAttempts.delete(key);
    this.refresh();
  }

  private resolveFailed(key: string, path: string, error: string): void {
    this.freeResolver(key);
    this.resolvers.delete(path);
    this.retryResolve(key, error);
  }

  private retryResolve(key: string, error: string): void {
    this.count.resolveFailures++;
    const e = this.entries.get(key);
    if (!e || e.ours) return;
    const n = (this.resolveAttempts.get(key) ?? 0) + 1;
    this.resolveAttempts.set(key, n);
    if (n > RESOLVE_RETRIES) {
      this.log.warn({ instance: e.name, err: error }, 'cannot resolve a peer: giving up until it re-appears');
      return;
    }
    this.log.debug({ instance: e.name, err: error, attempt: n }, 'resolve failed: retrying');
    const epoch = this.epoch;
    this.deps.clock.setTimer(RESOLVE_RETRY_MS * n, () => {
      if (!this.running || epoch !== this.epoch || this.resolverOf.has(key)) return;
      const cur = this.entries.get(key);
      const where = cur ? [...cur.where][0] : undefined;
      if (!cur || where === undefined) return;
      const [iface, proto] = where.split('/').map(Number);
      this.resolve(key, iface ?? IF_UNSPEC, proto ?? PROTO_INET, cur.name);
    });
  }

  private freeResolver(key: string): void {
    const path = this.resolverOf.get(key);
    this.resolverOf.delete(key);
    if (!path) return;
    this.resolvers.delete(path);
    void this.link
      ?.call(AVAHI_NAME, path, IFACE.serviceResolver, 'Free', '', [], CALL_TIMEOUT_MS)
      .catch(() => undefined);
  }

  private refresh(): void {
    const self = { instance: this.pub.label, peerId: this.pub.ann?.peerId ?? null };
    const next = buildTable(this.entries, self);
    for (const [k, row] of next) {
      const old = this.table.get(k);
      if (old) next.set(k, { ...row, firstSeen: old.firstSeen });
    }
    this.table = showPeers(this.table, next, this.lostReasons, { log: this.log, bus: this.deps.bus });
  }

  // ---- publishing -----------------------------------------------------------------------------

  private step(ev: PublishEvent): void {
    const { state, effects } = publishStep(this.pub, ev);
    this.pub = state;
    for (const fx of effects) this.effect(fx);
  }

  private effect(fx: PublishEffect): void {
    switch (fx.type) {
      case 'announced':
        this.log.info({ instance: fx.instance, host: this.host }, 'announced');
        this.deps.bus.emit('presence:announced', { instance: fx.instance, host: this.host });
        return;
      case 'renamed':
        this.count.collisions++;
        this.log.warn({ kind: 'instance', from: fx.from, to: fx.to }, 'name conflict: renamed');
        this.deps.bus.emit('presence:renamed', { kind: 'instance', from: fx.from, to: fx.to });
        return;
      case 'withdrawn':
        this.deps.bus.emit('presence:withdrawn', { instance: fx.instance });
        return;
      case 'failed':
        this.count.groupFailures++;
        this.log.warn({ err: fx.error }, 'Avahi could not publish us: retrying');
        if (fx.retry) this.armGroupRetry();
        return;
      default:
        this.enqueue(fx);
    }
  }

  private armGroupRetry(): void {
    this.timers.arm('group-retry', this.deps.clock.now() + GROUP_RETRY_MS, () =>
      this.step({ type: 'retry' }),
    );
  }

  /** D-Bus effects run one at a time, in order (a Reset must not overtake the AddService before it). */
  private enqueue(
    fx: Exclude<PublishEffect, { type: 'announced' | 'renamed' | 'withdrawn' | 'failed' }>,
  ): void {
    const epoch = this.epoch;
    this.queue = this.queue
      .then(() => (epoch === this.epoch ? this.runEffect(fx, epoch) : undefined))
      .catch((err) => {
        if (epoch !== this.epoch) return;
        this.count.dbusErrors++;
        const name = dbusErrorName(err);
        if (/CollisionError/.test(name)) {
          // Another service of this daemon already has the name: the same rename as a network conflict.
          return this.step({ type: 'group-state', state: GROUP.COLLISION, error: name });
        }
        this.log.warn({ err: name, effect: fx.type }, 'Avahi call failed: publishing again later');
        this.pub = { ...this.pub, committed: null, established: false };
        this.armGroupRetry();
      });
  }

  private async runEffect(
    fx: Exclude<PublishEffect, { type: 'announced' | 'renamed' | 'withdrawn' | 'failed' }>,
    epoch: number,
  ): Promise<void> {
    const group = this.groupPath;
    if (!group || epoch !== this.epoch) return;
    const g = (member: string, signature = '', body: unknown[] = []): Promise<unknown[]> =>
      this.call(AVAHI_NAME, group, IFACE.entryGroup, member, signature, body);
    if (fx.type === 'reset') {
      await g('Reset');
      return;
    }
    if (fx.type === 'update-txt') {
      this.count.txtUpdates++;
      await g('UpdateServiceTxt', 'iiusssaay', [
        this.ifindex,
        PROTO_INET,
        0,
        fx.label,
        AVAHI_SERVICE_TYPE,
        '',
        fx.txt,
      ]);
      return;
    }
    this.count.publishes++;
    await g('Reset');
    await g('AddService', 'iiussssqaay', [
      this.ifindex,
      PROTO_INET,
      0,
      fx.label,
      AVAHI_SERVICE_TYPE,
      '',
      '',
      fx.port,
      fx.txt,
    ]);
    await g('Commit');
    this.log.debug({ instance: fx.label, port: fx.port }, 'Avahi entry group committed');
  }

  private async call(
    dest: string,
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
    timeoutMs = CALL_TIMEOUT_MS,
  ): Promise<unknown[]> {
    const link = this.link;
    if (!link) throw new Error('D-Bus connection closed');
    this.count.dbusCalls++;
    try {
      return await link.call(dest, path, iface, member, signature, body, timeoutMs);
    } catch (err) {
      this.count.dbusErrors++;
      throw err;
    }
  }
}
