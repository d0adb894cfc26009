/**
 * Field rules of a contact, shared by the store (on load and every write), the peer API card, the XML
 * file and update(). Each rule returns the normalized value or throws PH_ERR_CONTACT_INVALID (400).
 */
import { PeerhubError } from '../core/errors.js';
import { parsePeerId } from '../identity/index.js';
import type { Contact, ContactCard, ContactPatch, Subscription } from './types.js';

export const MAX_NICKNAME = 63; // characters, as the config's nickname (the DNS-SD instance name)
export const MAX_DISPLAY_NAME = 128;
export const MAX_EMAIL = 254; // RFC 5321 path limit
export const MAX_ENDPOINTS = 16;
/** A PEM root of RSA-4096 is ~2 KB; anything far larger is not a root we made. */
export const MAX_CERT_PEM = 16 * 1024;

// C0, DEL, C1 controls, line/paragraph separators, BOM: never part of a name.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]/;
const EMAIL =
  /^[^\s@<>()[\]\\,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PEM_CERT =
  /^-----BEGIN CERTIFICATE-----\r?\n(?:[A-Za-z0-9+/=]{1,76}\r?\n)+-----END CERTIFICATE-----\r?\n?$/;

export function invalid(field: string, why: string): PeerhubError {
  return new PeerhubError('PH_ERR_CONTACT_INVALID', `${field}: ${why}`, { statusCode: 400 });
}

/**
 * Unicode NFC. ASCII text is already NFC: skipping the call for it keeps ICU's normalisation tables
 * (≈ 1.3 MB of the node binary) out of memory on a hub whose names are plain ASCII.
 */
export function nfc(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s : s.normalize('NFC');
}

function text(field: string, v: unknown, max: number, required: boolean): string {
  if (typeof v !== 'string') throw invalid(field, 'must be a string');
  const s = nfc(v).trim();
  if (required && s === '') throw invalid(field, 'must not be empty');
  if ([...s].length > max) throw invalid(field, `longer than ${max} characters`);
  if (CONTROL.test(s)) throw invalid(field, 'contains control characters');
  return s;
}

export const checkNickname = (v: unknown): string => {
  const s = text('nickname', v, MAX_NICKNAME, true);
  if (s.startsWith('.')) throw invalid('nickname', "must not start with '.'");
  return s;
};
export const checkDisplayName = (v: unknown): string => text('displayName', v, MAX_DISPLAY_NAME, false);

export function checkEmail(v: unknown): string {
  const s = text('email', v, MAX_EMAIL, false);
  if (s !== '' && !EMAIL.test(s))
    throw invalid('email', `${JSON.stringify(s)} is not an address like name@example.org`);
  return s;
}

/** `host:port`: a DNS name, an IPv4 address or `[IPv6]`, and a port 1–65535. Normalized to lower case. */
export function checkEndpoint(v: unknown): string {
  if (typeof v !== 'string') throw invalid('endpoints', 'each endpoint must be a string');
  const s = v.trim().toLowerCase();
  const bad = (why: string): PeerhubError => invalid('endpoints', `${JSON.stringify(v)}: ${why}`);
  const m = /^(\[[^\]]*\]|[^:[\]]+):(\d{1,5})$/.exec(s);
  if (!m) throw bad('expected host:port (IPv6 as [addr]:port)');
  const host = m[1] as string;
  const port = Number(m[2]);
  if (port < 1 || port > 65535 || m[2]?.startsWith('0')) throw bad('port must be 1–65535');
  if (host.startsWith('[')) {
    const addr = host.slice(1, -1);
    if (!/^[0-9a-f:.]+$/.test(addr) || !addr.includes(':') || addr.length > 45)
      throw bad('not an IPv6 address');
  } else if (/^[\d.]+$/.test(host)) {
    if (!IPV4.test(host)) throw bad('not an IPv4 address');
  } else {
    const name = host.endsWith('.') ? host.slice(0, -1) : host;
    if (name.length > 253 || !name.split('.').every((l) => HOST_LABEL.test(l))) throw bad('not a host name');
  }
  return `${host}:${port}`;
}

export function checkEndpoints(v: unknown): string[] {
  if (!Array.isArray(v)) throw invalid('endpoints', 'must be a list');
  if (v.length > MAX_ENDPOINTS) throw invalid('endpoints', `more than ${MAX_ENDPOINTS}`);
  return [...new Set(v.map(checkEndpoint))];
}

export function checkPeerId(v: unknown): string {
  if (typeof v !== 'string') throw invalid('peerId', 'must be a string');
  try {
    return parsePeerId(v);
  } catch (e) {
    throw invalid('peerId', (e as Error).message);
  }
}

/** Shape only (one PEM block); what it holds is checked by verifyRootCertificate. */
export function checkCertPem(v: unknown): string {
  if (typeof v !== 'string') throw invalid('rootCertPem', 'must be a string');
  if (v.length > MAX_CERT_PEM) throw invalid('rootCertPem', `larger than ${MAX_CERT_PEM} bytes`);
  const s = `${v.trim().replace(/\r\n/g, '\n')}\n`;
  if (!PEM_CERT.test(s)) throw invalid('rootCertPem', 'expected one PEM block "-----BEGIN CERTIFICATE-----"');
  return s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An untrusted card (peer API JSON, XML) → a normalized card. Unknown keys are ignored. */
export function checkCard(v: unknown): ContactCard {
  if (!isObject(v)) throw invalid('card', 'must be an object');
  return {
    peerId: checkPeerId(v.peerId),
    nickname: checkNickname(v.nickname),
    displayName: checkDisplayName(v.displayName ?? ''),
    email: checkEmail(v.email ?? ''),
    rootCertPem: checkCertPem(v.rootCertPem),
    endpoints: checkEndpoints(v.endpoints ?? []),
  };
}

const PATCH_KEYS = new Set(['nickname', 'displayName', 'email', 'endpoints']);

export function checkPatch(v: unknown): ContactPatch {
  if (!isObject(v)) throw invalid('update', 'must be an object');
  const unknown = Object.keys(v).filter((k) => !PATCH_KEYS.has(k));
  if (unknown.length) throw invalid('update', `cannot change ${unknown.join(', ')}`);
  const p: ContactPatch = {};
  if (v.nickname !== undefined) p.nickname = checkNickname(v.nickname);
  if (v.displayName !== undefined) p.displayName = checkDisplayName(v.displayName);
  if (v.email !== undefined) p.email = checkEmail(v.email);
  if (v.endpoints !== undefined) p.endpoints = checkEndpoints(v.endpoints);
  return p;
}

export function checkSubscription(v: unknown): Subscription {
  if (v !== 'allowed' && v !== 'blocked') throw invalid('subscription', "must be 'allowed' or 'blocked'");
  return v;
}

function time(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw invalid(field, 'must be a time in ms');
  return v;
}

/** A stored contact (contacts.json): the card rules plus the local fields. */
export function checkContact(v: unknown): Contact {
  const card = checkCard(v);
  const o = v as Record<string, unknown>;
  return {
    ...card,
    subscription: checkSubscription(o.subscription),
    addedAt: time('addedAt', o.addedAt),
    updatedAt: time('updatedAt', o.updatedAt),
    verifiedAt: o.verifiedAt === null ? null : time('verifiedAt', o.verifiedAt),
  };
}
