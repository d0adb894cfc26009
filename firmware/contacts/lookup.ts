/**
 * Lenient contact lookup, for people typing at a CLI: a full peer id (any case, with or without dashes
 * and check characters), a peer name `<id>.<classifier>`, a prefix of the id of at least 7 characters
 * (the short id shown in logs and lists), or a nickname (case-insensitive). An exact id or peer name
 * wins; otherwise every contact matched by prefix or nickname counts, and more than one is ambiguous.
 */
import { PeerhubError } from '../core/errors.js';
import { parsePeerId, parsePeerName, shortId } from '../identity/index.js';
import { nfc } from './fields.js';
import type { Contact } from './types.js';

export const MIN_PREFIX = 7;

function exactId(q: string): string | null {
  try {
    return parsePeerId(q);
  } catch {
    // not an id; perhaps a peer name
  }
  if (!q.includes('.')) return null;
  try {
    return parsePeerName(q).peerId;
  } catch {
    return null;
  }
}

/** The typing slips parsePeerId forgives, for a prefix. */
function compact(s: string): string {
  return s.toUpperCase().replace(/[\s-]/g, '').replace(/0/g, 'O').replace(/1/g, 'I').replace(/8/g, 'B');
}

const fold = (s: string): string => nfc(s).toLowerCase();

export function findContact(contacts: readonly Contact[], idOrName: string): Contact {
  const q = typeof idOrName === 'string' ? idOrName.trim() : '';
  const notFound = (): PeerhubError =>
    new PeerhubError('PH_ERR_CONTACT_NOT_FOUND', `no contact matches ${JSON.stringify(q)}`, {
      statusCode: 404,
    });
  if (q === '') throw notFound();
  const id = exactId(q);
  if (id !== null) {
    const hit = contacts.find((c) => c.peerId === id);
    if (hit) return hit;
  }
  const matches = new Set<Contact>();
  const prefix = compact(q);
  if (prefix.length >= MIN_PREFIX && /^[A-Z2-7]+$/.test(prefix)) {
    for (const c of contacts) if (compact(c.peerId).startsWith(prefix)) matches.add(c);
  }
  const name = fold(q);
  for (const c of contacts) if (fold(c.nickname) === name) matches.add(c);
  if (matches.size === 1) return [...matches][0] as Contact;
  if (matches.size === 0) throw notFound();
  const who = [...matches].map((c) => `${c.nickname} (${shortId(c.peerId)})`).join(', ');
  throw new PeerhubError(
    'PH_ERR_CONTACT_AMBIGUOUS',
    `${JSON.stringify(q)} matches ${matches.size} contacts: ${who}; use a longer id`,
    { statusCode: 409 },
  );
}
