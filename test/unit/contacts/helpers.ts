/** Shared set-up for contact tests: real identities (RSA roots), managers on real files, recorded events. */
import { join } from 'node:path';
import { ManualClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import {
  createRootCertificate,
  generateRootKeyPair,
  peerIdFromPublicKey,
} from '../../../firmware/identity/index.js';
import type { ContactCard, ContactEvents, ContactManager } from '../../../firmware/contacts/index.js';
import { createContactManager } from '../../../firmware/contacts/index.js';
import type { StoreFs } from '../../../firmware/store/index.js';

export const T0 = 1_700_000_000_000;

export interface Person {
  peerId: string;
  rootCertPem: string;
  privateKeyPem: string;
}

export async function person(): Promise<Person> {
  const keys = await generateRootKeyPair();
  return {
    peerId: peerIdFromPublicKey(keys.publicKeyPem),
    rootCertPem: createRootCertificate({ ...keys, now: T0 }),
    privateKeyPem: keys.privateKeyPem,
  };
}

export function cardOf(p: Person, nickname: string, extra: Partial<ContactCard> = {}): ContactCard {
  return {
    peerId: p.peerId,
    nickname,
    displayName: '',
    email: '',
    rootCertPem: p.rootCertPem,
    endpoints: [],
    ...extra,
  };
}

export type Recorded = {
  [K in keyof ContactEvents]: { type: K; data: ContactEvents[K] };
}[keyof ContactEvents];

export interface Hub {
  manager: ContactManager;
  events: Recorded[];
  clock: ManualClock;
  file: string;
}

/** A contact manager for `me` on `<dir>/contacts.json`, opened. */
export async function hub(dir: string, me: Person, nickname: string, fs?: StoreFs): Promise<Hub> {
  const events: Recorded[] = [];
  const clock = new ManualClock(T0);
  const file = join(dir, 'contacts.json');
  const bus = {
    emit<K extends keyof ContactEvents & string>(type: K, data: ContactEvents[K]): void {
      events.push({ type, data } as Recorded);
    },
  };
  const manager = createContactManager(
    { logger: silentLogger(), bus, clock, fs },
    {
      file,
      me: { peerId: me.peerId, nickname, rootCertPem: me.rootCertPem, endpoints: ['hub.example.org:7443'] },
    },
  );
  await manager.open();
  return { manager, events, clock, file };
}
