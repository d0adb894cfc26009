/**
 * The owner's collaboration policy, kept in `<dataDir>/policy.json` (durable store): who may invite
 * this hub, how host requests are answered, whether session members become contacts on first activity.
 */
import { PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { openStore, type Store, type StoreFs } from '../store/index.js';
import type { HostPolicy } from './host-requests-types.js';
import { POLICY_DEFAULTS, type InviteMode } from './policy.js';

export interface PolicyRecord {
  version: number;
  invite: InviteMode;
  host: HostPolicy;
  contactsOnActivity: 'add' | 'never';
}

export const POLICY_VERSION = 1;
export const DEFAULT_POLICY: PolicyRecord = {
  version: POLICY_VERSION,
  invite: { mode: 'contacts' },
  host: 'auto-contacts',
  contactsOnActivity: 'add',
};
const HOST_POLICIES: readonly unknown[] = ['auto-contacts', 'ask', 'never'];

export function validatePolicy(x: unknown): PolicyRecord {
  const o = x as Partial<PolicyRecord> | null;
  if (!o || typeof o !== 'object') throw new Error('policy: must be an object');
  const m = o.invite as { mode?: unknown; until?: unknown } | undefined;
  let invite: InviteMode;
  if (m?.mode === 'contacts' || m?.mode === 'nobody') invite = { mode: m.mode };
  else if (m?.mode === 'nearby' && typeof m.until === 'number' && Number.isFinite(m.until))
    invite = { mode: 'nearby', until: m.until };
  else throw new Error('policy.invite: { mode: contacts|nearby|nobody }');
  if (!HOST_POLICIES.includes(o.host)) throw new Error('policy.host: auto-contacts, ask or never');
  if (o.contactsOnActivity !== 'add' && o.contactsOnActivity !== 'never')
    throw new Error('policy.contactsOnActivity: add or never');
  return {
    version: o.version ?? POLICY_VERSION,
    invite,
    host: o.host as HostPolicy,
    contactsOnActivity: o.contactsOnActivity,
  };
}

export function openPolicyStore(
  file: string,
  deps: { logger: Logger; fs?: StoreFs; now: () => number },
): Promise<Store<PolicyRecord>> {
  return openStore<PolicyRecord>(
    { file, version: POLICY_VERSION, defaults: DEFAULT_POLICY, validate: validatePolicy },
    deps,
  );
}

/** `nearby` for `minutes` (default 10, at most 60) from `now`. */
export function nearbyUntil(minutes: number | undefined, now: number): number {
  const m = minutes ?? POLICY_DEFAULTS.nearbyDefaultMs / 60_000;
  if (!Number.isFinite(m) || m <= 0 || m * 60_000 > POLICY_DEFAULTS.nearbyMaxMs) {
    throw new PeerhubError('PH_ERR_BAD_REQUEST', 'policy: "nearby" lasts 1 to 60 minutes', {
      statusCode: 400,
    });
  }
  return now + m * 60_000;
}
