import { PeerhubError } from '../core/errors.js';
import { shortId } from '../identity/peerid.js';
import type { ContactsControl, ContactView } from '../control/contacts-types.js';
import type { NearbyPeer, PresenceStatus } from '../presence/types.js';
import { exportContact } from './xml-card.js';
import type { Contact, ContactManager } from './types.js';

export interface LivePresence {
  online: boolean;
  presence: { status: PresenceStatus; text: string; seq: number } | null;
}

export interface ContactsControlDeps {
  manager: ContactManager;
  /** Live state of a contact's subscription (null: not followed). */
  live(peerId: string): LivePresence | null;
  /** People Near Me, to resolve `add-nearby <nickname|id>`. */
  nearby(): NearbyPeer[];
  /** GET /v1/card over the peer API from a nearby peer (the TLS handshake proves its id). */
  fetchCard(peer: NearbyPeer): Promise<unknown>;
  /** Try to follow a contact's presence now. */
  follow(peerId: string): void;
}

/** Find a nearby peer by full id, id prefix (≥ 7), instance or nickname (case-insensitive). */
export function findNearby(peers: NearbyPeer[], ref: string): NearbyPeer {
  const norm = ref.trim().toUpperCase().replace(/[\s-]/g, '');
  const byId = peers.filter((p) => p.id && norm.length >= 7 && p.id.replace(/-/g, '').startsWith(norm));
  const byName = peers.filter(
    (p) =>
      p.nickname.toLowerCase() === ref.trim().toLowerCase() ||
      p.instance.toLowerCase() === ref.trim().toLowerCase(),
  );
  const ids = new Set([...byId, ...byName].map((p) => p.id ?? p.instance));
  if (ids.size === 0) {
    throw new PeerhubError('PH_ERR_NOT_FOUND', `no peer near me matches "${ref}" (see \`peerhub peers\`)`, {
      statusCode: 404,
    });
  }
  if (ids.size > 1) {
    throw new PeerhubError(
      'PH_ERR_CONTACT_AMBIGUOUS',
      `"${ref}" matches ${ids.size} nearby peers: use the peer id`,
      {
        statusCode: 409,
      },
    );
  }
  return (byId[0] ?? byName[0]) as NearbyPeer;
}

/** The contact manager as the control API shows it: stored contacts joined with live presence. */
export function createContactsControl(deps: ContactsControlDeps): ContactsControl {
  const { manager } = deps;
  const view = (c: Contact): ContactView => {
    const live = deps.live(c.peerId);
    return {
      id: c.peerId,
      shortId: shortId(c.peerId),
      nickname: c.nickname,
      displayName: c.displayName,
      email: c.email,
      endpoints: c.endpoints,
      subscription: c.subscription,
      verified: c.verifiedAt !== null,
      verifiedAt: c.verifiedAt,
      online: live?.online ?? false,
      presence: live?.presence ?? null,
      addedAt: c.addedAt,
      updatedAt: c.updatedAt,
    };
  };
  return {
    list: () => manager.list().map(view),
    show: (ref) => view(manager.get(ref)),
    async addNearby(ref) {
      const peer = findNearby(deps.nearby(), ref);
      return view(await manager.addFromNearby(peer, (p) => deps.fetchCard(p)));
    },
    importXml: async (xml) => view(await manager.importXml(xml)),
    exportXml: (ref) => exportContact(manager.get(ref)),
    exportMe: () => exportContact(manager.me()),
    code(ref) {
      const c = manager.get(ref);
      return {
        id: c.peerId,
        nickname: c.nickname,
        code: manager.verificationCodeFor(ref),
        verified: c.verifiedAt !== null,
      };
    },
    confirm: async (ref) => view(await manager.markVerified(ref)),
    update: async (ref, patch) => view(await manager.update(ref, patch)),
    remove: async (ref) => view(await manager.remove(ref)),
    setSubscription: async (ref, s) => view(await manager.setSubscription(ref, s)),
    subscribe(ref) {
      const c = manager.get(ref);
      deps.follow(c.peerId);
      return view(c);
    },
  };
}
