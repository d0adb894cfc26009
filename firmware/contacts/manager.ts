/**
 * The contact manager: contacts pinned by their root key, kept in `<dataDir>/contacts.json` through the
 * durable store. Every change runs inside store.update (serialized, validated, fsynced); an event is
 * emitted only after the write landed, and a failed write changes nothing, in memory or on disk.
 */
import type { Clock } from '../core/clock.js';
import { isPeerhubError, PeerhubError, wrap } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { shortId } from '../identity/index.js';
import type { Emitter, NearbyPeer } from '../presence/types.js';
import { openStore, type Store, type StoreFs } from '../store/index.js';
import { checkCard, checkContact, checkPatch, checkSubscription, invalid } from './fields.js';
import { findContact } from './lookup.js';
import type {
  Contact,
  ContactCard,
  ContactEvents,
  ContactField,
  ContactManager,
  ContactPatch,
  ContactSummary,
  FetchCard,
  Subscription,
} from './types.js';
import { verificationCode, verifyRootCertificate } from './verify.js';
import { parseContactXml } from './xml-card.js';

export const CONTACTS_VERSION = 1;

export interface ContactsRecord {
  version: number;
  contacts: Contact[];
}

export interface ContactManagerDeps {
  logger: Logger;
  bus: Emitter<ContactEvents>;
  clock: Clock;
  /** Passed to the store (tests inject failures). */
  fs?: StoreFs;
}

export interface ContactManagerInit {
  /** `<dataDir>/contacts.json` */
  file: string;
  me: { peerId: string; nickname: string; rootCertPem: string; endpoints: string[] } & Partial<
    Pick<ContactCard, 'displayName' | 'email'>
  >;
}

export function validateContacts(x: unknown): ContactsRecord {
  const o = x as Partial<ContactsRecord> | null;
  if (!o || typeof o !== 'object' || !Array.isArray(o.contacts)) throw new Error('contacts: must be a list');
  const seen = new Set<string>();
  const contacts = o.contacts.map((c, i) => {
    try {
      const v = checkContact(c);
      if (seen.has(v.peerId)) throw new Error(`peer ${v.peerId} listed twice`);
      seen.add(v.peerId);
      return v;
    } catch (e) {
      throw new Error(`contacts[${i}]: ${(e as Error).message}`, { cause: e });
    }
  });
  return { version: o.version ?? CONTACTS_VERSION, contacts };
}

function summary(c: Contact): ContactSummary {
  const { rootCertPem: _cert, ...rest } = c;
  return { ...rest, endpoints: [...rest.endpoints] };
}

export class DefaultContactManager implements ContactManager {
  private store: Store<ContactsRecord> | null = null;
  private readonly log: Logger;
  private readonly card: ContactCard;

  constructor(
    private readonly deps: ContactManagerDeps,
    private readonly init: ContactManagerInit,
  ) {
    this.log = deps.logger.child({ component: 'contacts' });
    this.card = checkCard({ displayName: '', email: '', ...init.me });
    try {
      verifyRootCertificate(this.card.rootCertPem, this.card.peerId);
    } catch (e) {
      throw wrap('PH_ERR_INTERNAL', 'contact manager: my own root', e);
    }
  }

  async open(): Promise<void> {
    if (this.store) return;
    this.store = await openStore<ContactsRecord>(
      {
        file: this.init.file,
        version: CONTACTS_VERSION,
        defaults: { version: CONTACTS_VERSION, contacts: [] },
        validate: validateContacts,
      },
      { logger: this.log, fs: this.deps.fs, now: () => this.deps.clock.now() },
    );
    this.log.info({ file: this.init.file, contacts: this.store.data.contacts.length }, 'contacts loaded');
  }

  async close(): Promise<void> {
    const s = this.store;
    this.store = null;
    await s?.close();
  }

  me(): ContactCard {
    return structuredClone(this.card);
  }

  private get db(): Store<ContactsRecord> {
    if (!this.store) throw new PeerhubError('PH_ERR_INTERNAL', 'contact manager is not open');
    return this.store;
  }

  list(): Contact[] {
    return structuredClone(this.db.data.contacts);
  }

  byPeerId(peerId: string): Contact | undefined {
    const c = this.db.data.contacts.find((x) => x.peerId === peerId);
    return c && structuredClone(c);
  }

  get(idOrName: string): Contact {
    return structuredClone(findContact(this.db.data.contacts, idOrName));
  }

  async add(input: unknown): Promise<Contact> {
    const card = checkCard(input);
    verifyRootCertificate(card.rootCertPem, card.peerId);
    if (card.peerId === this.card.peerId) {
      throw new PeerhubError('PH_ERR_CONTACT_SELF', 'this card is my own: a hub is not its own contact', {
        statusCode: 400,
      });
    }
    const now = this.deps.clock.now();
    const contact: Contact = {
      ...card,
      subscription: 'allowed',
      addedAt: now,
      updatedAt: now,
      verifiedAt: null,
    };
    await this.db.update((d) => {
      const old = d.contacts.find((c) => c.peerId === card.peerId);
      if (old) {
        throw new PeerhubError(
          'PH_ERR_CONTACT_EXISTS',
          `peer ${shortId(card.peerId)} is already a contact (${old.nickname})`,
          { statusCode: 409 },
        );
      }
      d.contacts.push(contact);
    });
    this.log.info({ peer: shortId(contact.peerId), nickname: contact.nickname }, 'contact added');
    this.deps.bus.emit('contact:added', { contact: summary(contact) });
    return structuredClone(contact);
  }

  async addFromNearby(peer: NearbyPeer, fetchCard: FetchCard): Promise<Contact> {
    if (!peer.id || !peer.wellFormed) {
      throw invalid('peer', `${JSON.stringify(peer.instance)} is not a peerhub announcement with a peer id`);
    }
    const seen = peer.id;
    let card: unknown;
    try {
      card = await fetchCard(peer);
    } catch (e) {
      if (isPeerhubError(e)) throw e;
      throw wrap('PH_ERR_CONTACT_FETCH', `fetch the card of ${peer.instance} (${shortId(seen)})`, e, 502);
    }
    const c = checkCard(card);
    if (c.peerId !== seen) {
      throw new PeerhubError(
        'PH_ERR_CONTACT_CERT_MISMATCH',
        `${peer.instance} announced peer ${shortId(seen)} but served the card of ${shortId(c.peerId)}`,
        { statusCode: 400 },
      );
    }
    return this.add(c);
  }

  async importXml(file: Uint8Array | string): Promise<Contact> {
    return this.add(parseContactXml(file));
  }

  private gone(peerId: string): PeerhubError {
    return new PeerhubError('PH_ERR_CONTACT_NOT_FOUND', `contact ${shortId(peerId)} was just removed`, {
      statusCode: 404,
    });
  }

  /** Find, change and write in one serialized step; emits contact:updated when something changed. */
  private async change(idOrName: string, fn: (c: Contact) => ContactField[]): Promise<Contact> {
    const current = findContact(this.db.data.contacts, idOrName);
    if (fn(structuredClone(current)).length === 0) return structuredClone(current);
    let changed: ContactField[] = [];
    let contact: Contact | undefined;
    await this.db.update((d) => {
      const c = d.contacts.find((x) => x.peerId === current.peerId);
      if (!c) throw this.gone(current.peerId);
      changed = fn(c);
      c.updatedAt = this.deps.clock.now();
      contact = structuredClone(c);
    });
    const after = contact as Contact;
    this.log.info({ peer: shortId(after.peerId), changed }, 'contact updated');
    this.deps.bus.emit('contact:updated', { contact: summary(after), changed });
    return after;
  }

  async update(idOrName: string, patch: ContactPatch): Promise<Contact> {
    const p = checkPatch(patch);
    return this.change(idOrName, (c) => {
      const changed: ContactField[] = [];
      for (const k of ['nickname', 'displayName', 'email'] as const) {
        const v = p[k];
        if (v !== undefined && v !== c[k]) {
          c[k] = v;
          changed.push(k);
        }
      }
      if (p.endpoints && JSON.stringify(p.endpoints) !== JSON.stringify(c.endpoints)) {
        c.endpoints = p.endpoints;
        changed.push('endpoints');
      }
      return changed;
    });
  }

  async setSubscription(idOrName: string, subscription: Subscription): Promise<Contact> {
    const s = checkSubscription(subscription);
    return this.change(idOrName, (c) => {
      if (c.subscription === s) return [];
      c.subscription = s;
      return ['subscription'];
    });
  }

  async markVerified(idOrName: string): Promise<Contact> {
    return this.change(idOrName, (c) => {
      c.verifiedAt = this.deps.clock.now();
      return ['verifiedAt'];
    });
  }

  async remove(idOrName: string): Promise<Contact> {
    const target = findContact(this.db.data.contacts, idOrName);
    await this.db.update((d) => {
      const i = d.contacts.findIndex((c) => c.peerId === target.peerId);
      if (i < 0) throw this.gone(target.peerId);
      d.contacts.splice(i, 1);
    });
    this.log.info({ peer: shortId(target.peerId) }, 'contact removed');
    this.deps.bus.emit('contact:deleted', { contact: summary(target) });
    return structuredClone(target);
  }

  verificationCodeFor(idOrName: string): string {
    return verificationCode(this.card.rootCertPem, findContact(this.db.data.contacts, idOrName).rootCertPem);
  }
}
