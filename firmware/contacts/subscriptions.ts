/**
 * Presence of contacts, pushed: for every followed contact (subscription 'allowed'), one event stream on
 * its hub (`/v1/events`), a presence snapshot (`GET /v1/presence`) per connection, and nothing polled.
 * The shell runs the link machine's effects: connections (bounded), timers and events.
 */
import type { Timer } from '../core/clock.js';
import { isPeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { parsePeerId, shortId } from '../identity/peerid.js';
import { parseEndpoint } from '../nearby/index.js';
import { PRESENCE_STATES, type PresenceStatus } from '../presence/types.js';
import type { Subscription as EventStream } from '../wire/index.js';
import {
  initialLink,
  LINK_DEFAULTS,
  stepLink,
  type LinkConfig,
  type LinkEffect,
  type LinkEvent,
  type LinkState,
} from './subscriptions-machine.js';
import type {
  ContactPresence,
  ContactPresenceDeps,
  ContactPresenceInit,
  ContactPresenceView,
  LivePresence,
} from './subscriptions-types.js';

interface Link {
  state: LinkState;
  endpoints: string; // the contact's stored endpoints when last seen (a change retries an offline link)
  timer?: Timer;
  stream?: EventStream;
}

const canon = (id: string): string => {
  try {
    return parsePeerId(id);
  } catch {
    return id;
  }
};
const short = (id: string): string => {
  try {
    return shortId(id);
  } catch {
    return id.slice(0, 7);
  }
};

/** A peer's presence body or `presence:changed` data; a signed-out hub (scope None) reads as Offline. */
export function parsePresence(x: unknown): LivePresence | null {
  const o = x as { status?: unknown; text?: unknown; seq?: unknown; scope?: unknown } | null;
  if (!o || typeof o !== 'object') return null;
  if (!PRESENCE_STATES.includes(o.status as PresenceStatus)) return null;
  if (typeof o.seq !== 'number' || !Number.isFinite(o.seq)) return null;
  const text = typeof o.text === 'string' ? o.text : '';
  return { status: o.scope === 'None' ? 'Offline' : (o.status as PresenceStatus), text, seq: o.seq };
}

class ContactPresenceService implements ContactPresence {
  private readonly log: Logger;
  private readonly cfg: LinkConfig;
  private readonly port: number;
  private readonly maxConnecting: number;
  private readonly links = new Map<string, Link>();
  private queue: Array<{ peerId: string; token: number; since: number | null }> = [];
  private active = 0;
  private running = false;
  private offs: Array<() => void> = [];

  constructor(
    private readonly deps: ContactPresenceDeps,
    init: ContactPresenceInit = {},
  ) {
    this.log = deps.logger.child({ component: 'contact-presence' });
    this.cfg = {
      minMs: init.retry?.minMs ?? LINK_DEFAULTS.minMs,
      maxMs: init.retry?.maxMs ?? LINK_DEFAULTS.maxMs,
    };
    this.port = init.port ?? LINK_DEFAULTS.port;
    this.maxConnecting = init.maxConnecting ?? LINK_DEFAULTS.maxConnecting;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.offs = [
      this.deps.onContactsChanged(() => this.reconcile()),
      this.deps.onUnreachable((peerId, reason) =>
        this.apply(canon(peerId), {
          type: 'ended',
          reason: reason ? `unreachable: ${reason}` : 'unreachable',
        }),
      ),
    ];
    this.reconcile();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const off of this.offs) off();
    this.offs = [];
    for (const l of this.links.values()) {
      l.timer?.cancel();
      l.stream?.close();
    }
    this.links.clear();
    this.queue = [];
  }

  view(peerId: string): ContactPresenceView {
    const s = this.links.get(canon(peerId))?.state;
    if (!s) return { online: false, presence: null, endpoint: null, state: 'idle', since: 0 };
    return {
      online: s.phase === 'online',
      presence: s.presence && { ...s.presence },
      endpoint: s.endpoint,
      state: s.phase,
      since: s.since,
    };
  }

  views(): Array<ContactPresenceView & { peerId: string }> {
    return [...this.links.keys()].map((peerId) => ({ peerId, ...this.view(peerId) }));
  }

  welcome(peerId: string): void {
    this.apply(canon(peerId), { type: 'welcome' });
  }

  poke(peerId: string): void {
    this.apply(canon(peerId), { type: 'poke' });
  }

  /** Follow allowed contacts, unfollow removed or blocked ones, retry offline ones whose endpoints changed. */
  private reconcile(): void {
    if (!this.running) return;
    const wanted = new Map(
      this.deps.contacts
        .list()
        .filter((c) => c.subscription === 'allowed')
        .map((c) => [canon(c.peerId), c.endpoints.join(' ')]),
    );
    for (const [peerId, l] of this.links) {
      if (wanted.has(peerId)) continue;
      this.apply(peerId, { type: 'stop', reason: 'unfollowed' });
      l.timer?.cancel();
      this.links.delete(peerId);
    }
    for (const [peerId, endpoints] of wanted) {
      const l = this.links.get(peerId);
      if (!l) {
        this.links.set(peerId, { state: initialLink(this.deps.clock.now()), endpoints });
        this.apply(peerId, { type: 'start' });
      } else if (l.endpoints !== endpoints) {
        l.endpoints = endpoints;
        this.apply(peerId, { type: 'poke' });
      }
    }
  }

  private apply(peerId: string, ev: LinkEvent): void {
    const l = this.links.get(peerId);
    if (!l || !this.running) return;
    const { state, effects } = stepLink(l.state, ev, this.deps.clock.now(), this.cfg);
    l.state = state;
    for (const fx of effects) this.effect(peerId, l, fx);
  }

  private effect(peerId: string, l: Link, fx: LinkEffect): void {
    const bus = this.deps.bus;
    switch (fx.type) {
      case 'connect':
        this.queue.push({ peerId, token: fx.token, since: fx.since });
        return this.pump();
      case 'close': {
        const s = l.stream;
        l.stream = undefined;
        return s?.close();
      }
      case 'schedule':
        l.timer?.cancel();
        l.timer = this.deps.clock.setTimer(fx.at - this.deps.clock.now(), () => {
          l.timer = undefined;
          this.apply(peerId, { type: 'retry' });
        });
        return;
      case 'cancel':
        l.timer?.cancel();
        l.timer = undefined;
        return;
      case 'online':
        this.log.info({ peer: short(peerId), endpoint: l.state.endpoint }, 'contact online');
        bus.emit('contact:online', { peerId });
        return;
      case 'offline':
        this.log.info({ peer: short(peerId), reason: fx.reason }, 'contact offline');
        bus.emit('contact:offline', { peerId, reason: fx.reason });
        return;
      case 'presence':
        bus.emit('contact:presence', { peerId, ...fx.presence });
        return;
    }
  }

  private current(peerId: string, token: number): Link | undefined {
    const l = this.links.get(peerId);
    return this.running && l?.state.phase === 'connecting' && l.state.token === token ? l : undefined;
  }

  private pump(): void {
    while (this.running && this.active < this.maxConnecting && this.queue.length > 0) {
      const job = this.queue.shift() as { peerId: string; token: number; since: number | null };
      if (!this.current(job.peerId, job.token)) continue;
      this.active++;
      void this.connect(job.peerId, job.token, job.since).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  /** Where to find a contact: verified nearby rows first, then its stored endpoints (Internet scope). */
  private endpointsFor(peerId: string): string[] {
    const near = this.deps
      .nearby()
      .filter((r) => r.verified && r.id !== null && canon(r.id) === peerId)
      .flatMap((r) => r.endpoints);
    let stored: string[] = [];
    try {
      stored = this.deps.contacts.get(peerId).endpoints;
    } catch {
      // Removed meanwhile: reconcile stops the link.
    }
    return [...new Set([...near, ...stored])];
  }

  private async connect(peerId: string, token: number, since: number | null): Promise<void> {
    const { client } = this.deps;
    let reason = 'no known endpoint';
    for (const endpoint of this.endpointsFor(peerId)) {
      const hp = parseEndpoint(endpoint, this.port);
      if (!hp) continue;
      const target = { peerId, ...hp };
      const path = since === null ? '/v1/events' : `/v1/events?since=${since}`;
      let stream: EventStream | undefined;
      try {
        stream = await client.subscribe(target, path, (ev) => this.onStreamEvent(peerId, token, ev));
        const l = this.current(peerId, token);
        if (!l) return stream.close();
        const mine = stream;
        l.stream = mine;
        void mine.ended.then(({ reason: why }) => {
          if (l.stream === mine) this.apply(peerId, { type: 'ended', token, reason: `stream ${why}` });
        });
        const presence = parsePresence(await client.request(target, 'GET', '/v1/presence'));
        if (!presence) throw new Error('malformed presence');
        return this.apply(peerId, { type: 'connected', token, endpoint, presence });
      } catch (e) {
        const l = this.links.get(peerId);
        if (stream && l?.stream === stream) l.stream = undefined;
        stream?.close();
        if (!this.current(peerId, token)) return;
        if (isPeerhubError(e, 'PH_ERR_FORBIDDEN')) {
          return this.apply(peerId, { type: 'failed', token, reason: 'forbidden', forbidden: true });
        }
        reason = isPeerhubError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
        this.log.debug({ peer: short(peerId), endpoint, reason }, 'contact not reached there');
      }
    }
    this.apply(peerId, { type: 'failed', token, reason, forbidden: false });
  }

  private onStreamEvent(peerId: string, token: number, ev: unknown): void {
    const e = ev as { id?: unknown; type?: unknown; data?: unknown } | null;
    const eventId = typeof e?.id === 'number' ? e.id : null;
    const presence = e?.type === 'presence:changed' ? parsePresence(e.data) : null;
    if (e?.type === 'presence:changed' && !presence) {
      this.log.warn({ peer: short(peerId) }, 'malformed presence event from contact');
    }
    this.apply(peerId, { type: 'event', token, eventId, presence });
    // ApplicationChanged / ObjectChanged: a contact's published applications and objects.
    const item = parseItemChange(e?.data);
    const link = this.links.get(peerId);
    if (item && this.running && link?.state.phase === 'online' && link.state.token === token) {
      if (e?.type === 'application:changed') {
        this.deps.bus.emit('contact:application', { peerId, change: item.change, applicationId: item.id });
      } else if (e?.type === 'object:changed') {
        this.deps.bus.emit('contact:object', { peerId, change: item.change, objectId: item.id });
      }
    }
  }
}

/** `{ change: added|updated|removed, id }` of an application:changed / object:changed event, or null. */
export function parseItemChange(
  data: unknown,
): { change: 'added' | 'updated' | 'removed'; id: string } | null {
  const d = data as { change?: unknown; id?: unknown } | null;
  if (!d || typeof d !== 'object') return null;
  if (d.change !== 'added' && d.change !== 'updated' && d.change !== 'removed') return null;
  if (typeof d.id !== 'string' || d.id.length === 0 || d.id.length > 64) return null;
  return { change: d.change, id: d.id };
}

export function createContactPresence(
  deps: ContactPresenceDeps,
  init: ContactPresenceInit = {},
): ContactPresence {
  return new ContactPresenceService(deps, init);
}
