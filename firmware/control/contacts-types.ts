import type { ContactPatch, Subscription } from '../contacts/types.js';
import type { PresenceStatus } from '../presence/types.js';

/** A contact as the control API shows it: stored fields + live presence (never the private key). */
export interface ContactView {
  id: string;
  shortId: string;
  nickname: string;
  displayName: string;
  email: string;
  endpoints: string[];
  subscription: Subscription;
  verified: boolean; // the owner confirmed the verification code
  verifiedAt: number | null;
  online: boolean;
  presence: { status: PresenceStatus; text: string; seq: number } | null;
  addedAt: number;
  updatedAt: number;
}

/** The contact actions a user can take (the agent implements them; the CLI calls them). */
export interface ContactsControl {
  list(): ContactView[];
  show(ref: string): ContactView;
  addNearby(ref: string): Promise<ContactView>;
  importXml(xml: string): Promise<ContactView>;
  exportXml(ref: string): string;
  exportMe(): string;
  code(ref: string): { id: string; nickname: string; code: string; verified: boolean };
  confirm(ref: string): Promise<ContactView>;
  update(ref: string, patch: ContactPatch): Promise<ContactView>;
  remove(ref: string): Promise<ContactView>;
  setSubscription(ref: string, subscription: Subscription): Promise<ContactView>;
  /** Follow this contact's presence now (normally automatic; retries at once after a refusal). */
  subscribe(ref: string): ContactView;
}
