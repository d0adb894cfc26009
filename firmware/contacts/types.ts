/** Contact manager contract (DESIGN "The seed": Contact manager; issue 3). Interfaces and events only. */
import type { NearbyPeer, PresenceStatus } from '../presence/types.js';

export type Subscription = 'allowed' | 'blocked';

/** What two hubs exchange (peer API `GET /v1/card`, XML contact file): who, where, and the root key. */
export interface ContactCard {
  peerId: string; // canonical peer id = base32 SHA-256 of the root's SPKI
  nickname: string; // 1–63 characters
  displayName: string; // ≤ 128 characters, may be empty
  email: string; // '' or local@domain
  rootCertPem: string; // the self-signed identity root (pinned: trust ends here)
  endpoints: string[]; // host:port, reachable without discovery (the seed's Internet scope)
}

export interface Contact extends ContactCard {
  subscription: Subscription; // blocked: gets nothing from us (presence, objects, invitations)
  addedAt: number;
  updatedAt: number;
  verifiedAt: number | null; // when the owner confirmed the verification code
}

/** A contact without its certificate, as carried by events. */
export type ContactSummary = Omit<Contact, 'rootCertPem'>;
export type ContactPatch = Partial<Pick<Contact, 'nickname' | 'displayName' | 'email' | 'endpoints'>>;
export type ContactField = keyof ContactPatch | 'subscription' | 'verifiedAt';

/** The seed's ContactAdded/Updated/Deleted, PresenceChanged, ApplicationChanged, ObjectChanged. */
export interface ContactEvents {
  'contact:added': { contact: ContactSummary };
  'contact:updated': { contact: ContactSummary; changed: ContactField[] };
  'contact:deleted': { contact: ContactSummary };
  'contact:presence': { peerId: string; status: PresenceStatus; text: string; seq: number };
  'contact:application': { peerId: string; change: 'added' | 'updated' | 'removed'; applicationId: string };
  'contact:object': { peerId: string; change: 'added' | 'updated' | 'removed'; objectId: string };
}

/** The fetch over the peer API, injected: resolves to the card the peer serves (untrusted input). */
export type FetchCard = (peer: NearbyPeer) => Promise<unknown>;

export interface ContactManager {
  open(): Promise<void>;
  close(): Promise<void>;
  /** The local contact: my card, as exported and served. */
  me(): ContactCard;
  add(card: unknown): Promise<Contact>;
  /** Fetch the card of a peer seen in People Near Me; its root must hash to the id presence showed. */
  addFromNearby(peer: NearbyPeer, fetchCard: FetchCard): Promise<Contact>;
  /** Add from an XML contact file (bytes as read from disk). */
  importXml(file: Uint8Array | string): Promise<Contact>;
  /** Full id, short id (≥ 7 characters of it), peer name `<id>.<classifier>`, or nickname. */
  get(idOrName: string): Contact;
  list(): Contact[];
  /** The contact with this canonical peer id (a copy), without copying the whole list. */
  byPeerId(peerId: string): Contact | undefined;
  update(idOrName: string, patch: ContactPatch): Promise<Contact>;
  remove(idOrName: string): Promise<Contact>;
  setSubscription(idOrName: string, subscription: Subscription): Promise<Contact>;
  markVerified(idOrName: string): Promise<Contact>;
  /** The short code both owners compare before trusting (see verificationCode). */
  verificationCodeFor(idOrName: string): string;
}
