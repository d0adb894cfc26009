/** Contacts: the seed's contact manager on the durable store (DESIGN "The seed", issue 3). */
export type {
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
export { CONTACTS_VERSION, DefaultContactManager, validateContacts } from './manager.js';
export type { ContactManagerDeps, ContactManagerInit, ContactsRecord } from './manager.js';
export { checkCard, checkEndpoint, MAX_DISPLAY_NAME, MAX_ENDPOINTS, MAX_NICKNAME } from './fields.js';
export { findContact, MIN_PREFIX } from './lookup.js';
export { CODE_ENTROPY_BITS, verificationCode, verifyRootCertificate } from './verify.js';
export {
  CONTACT_XML_VERSION,
  decodeContactFile,
  exportContact,
  MAX_CONTACT_XML_BYTES,
  parseContactXml,
} from './xml-card.js';

import type { ContactManager } from './types.js';
import { DefaultContactManager, type ContactManagerDeps, type ContactManagerInit } from './manager.js';

/** The contact manager for `<dataDir>/contacts.json`; call open() before use. */
export function createContactManager(deps: ContactManagerDeps, init: ContactManagerInit): ContactManager {
  return new DefaultContactManager(deps, init);
}
export { createContactPresence, parsePresence } from './subscriptions.js';
export { backoff, LINK_DEFAULTS, stepLink } from './subscriptions-machine.js';
export type { LinkEffect, LinkEvent, LinkState } from './subscriptions-machine.js';
export type {
  ContactPresence,
  ContactPresenceDeps,
  ContactPresenceEvents,
  ContactPresenceInit,
  ContactPresenceView,
  LinkPhase,
  LivePresence,
} from './subscriptions-types.js';
