/**
 * The XML contact file (`peerhub contacts export-me > me.contact`), format version 1:
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <peerhubContact version="1">
 *     <peerId>ABCDEFG-…</peerId>                  required, the root's peer id
 *     <nickname>Ada</nickname>                    required, 1–63 characters
 *     <displayName>Ada Lovelace</displayName>     optional, ≤ 128 characters
 *     <email>ada@example.org</email>              optional
 *     <endpoints>                                 optional, ≤ 16 × host:port (Internet scope)
 *       <endpoint>ada.example.org:7443</endpoint>
 *     </endpoints>
 *     <certificate encoding="pem">-----BEGIN CERTIFICATE-----…</certificate>   required, the root
 *   </peerhubContact>
 *
 * UTF-8 only, at most 64 KiB; each element at most once (endpoint: per address), no other elements or
 * attributes. Reading refuses DOCTYPE/entities, CDATA, processing instructions (see xml.ts) and checks
 * the certificate: a self-signed root whose key hashes to <peerId>.
 */
import { checkCard } from './fields.js';
import type { ContactCard } from './types.js';
import { verifyRootCertificate } from './verify.js';
import { parseXml, xmlInvalid, xmlLimit, type XmlElement } from './xml.js';

export const CONTACT_XML_VERSION = '1';
export const MAX_CONTACT_XML_BYTES = 64 * 1024;
const ROOT = 'peerhubContact';
const FIELDS = ['peerId', 'nickname', 'displayName', 'email', 'endpoints', 'certificate'] as const;
const REQUIRED = new Set(['peerId', 'nickname', 'certificate']);

function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`,
  );
}

function leaf(name: string, value: string): string {
  return value === '' ? `  <${name}/>` : `  <${name}>${escapeXml(value)}</${name}>`;
}

/** A contact or my card as a contact file (the local fields — subscription, times — stay home). */
export function exportContact(card: ContactCard): string {
  const c = checkCard(card);
  const endpoints = c.endpoints.length
    ? [
        '  <endpoints>',
        ...c.endpoints.map((e) => `    <endpoint>${escapeXml(e)}</endpoint>`),
        '  </endpoints>',
      ]
    : ['  <endpoints/>'];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<${ROOT} version="${CONTACT_XML_VERSION}">`,
    leaf('peerId', c.peerId),
    leaf('nickname', c.nickname),
    leaf('displayName', c.displayName),
    leaf('email', c.email),
    ...endpoints,
    `  <certificate encoding="pem">\n${c.rootCertPem}  </certificate>`,
    `</${ROOT}>`,
    '',
  ].join('\n');
}

/** Bytes → text: size first, then strict UTF-8 (a BOM is dropped; UTF-16 and invalid bytes refused). */
export function decodeContactFile(file: Uint8Array | string): string {
  const size = typeof file === 'string' ? Buffer.byteLength(file, 'utf8') : file.byteLength;
  if (size > MAX_CONTACT_XML_BYTES) {
    throw xmlLimit(`${size} bytes, larger than ${MAX_CONTACT_XML_BYTES} (a contact file is about 2 KB)`);
  }
  if (typeof file === 'string') return file.replace(/^\ufeff/, '');
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if ((b[0] === 0xfe && b[1] === 0xff) || (b[0] === 0xff && b[1] === 0xfe)) {
    throw xmlInvalid('the file is UTF-16: contact files are UTF-8');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(b);
  } catch {
    throw xmlInvalid('the file is not valid UTF-8 (contact files are UTF-8)');
  }
}

function noAttrs(el: XmlElement, allowed: string[] = []): void {
  const extra = [...el.attrs.keys()].filter((a) => !allowed.includes(a));
  if (extra.length) throw xmlInvalid(`<${el.name}> has an unknown attribute ${extra[0]}`, el.line);
}

function onlyText(el: XmlElement, allowed: string[] = []): string {
  if (el.children.length)
    throw xmlInvalid(`<${el.name}> must hold text, not <${el.children[0]?.name}>`, el.line);
  noAttrs(el, allowed);
  return el.text;
}

function onlyElements(el: XmlElement): void {
  if (el.text.trim() !== '') throw xmlInvalid(`<${el.name}> holds text outside its elements`, el.line);
}

/**
 * Read a contact file into a card whose certificate was checked (PH_ERR_CONTACT_XML_* for the file,
 * PH_ERR_CONTACT_INVALID for a field, PH_ERR_CONTACT_CERT_* for the certificate). Pure.
 */
export function parseContactXml(file: Uint8Array | string): ContactCard {
  const root = parseXml(decodeContactFile(file));
  if (root.name !== ROOT)
    throw xmlInvalid(`the root element is <${root.name}>, expected <${ROOT}>`, root.line);
  const version = root.attrs.get('version');
  if (version === undefined) throw xmlInvalid(`<${ROOT}> has no version attribute`, root.line);
  if (version !== CONTACT_XML_VERSION) {
    throw xmlInvalid(
      `format version ${version}; this peerhub reads version ${CONTACT_XML_VERSION}`,
      root.line,
    );
  }
  noAttrs(root, ['version']);
  onlyElements(root);

  const seen = new Map<string, XmlElement>();
  for (const child of root.children) {
    if (!(FIELDS as readonly string[]).includes(child.name)) {
      throw xmlInvalid(`unknown element <${child.name}> (expected ${FIELDS.join(', ')})`, child.line);
    }
    const first = seen.get(child.name);
    if (first) throw xmlInvalid(`two <${child.name}> elements (lines ${first.line} and ${child.line})`);
    seen.set(child.name, child);
  }
  for (const name of REQUIRED) if (!seen.has(name)) throw xmlInvalid(`<${name}> is missing`, root.line);

  const endpoints: string[] = [];
  const eps = seen.get('endpoints');
  if (eps) {
    noAttrs(eps);
    onlyElements(eps);
    for (const e of eps.children) {
      if (e.name !== 'endpoint')
        throw xmlInvalid(`<endpoints> holds <${e.name}>, expected <endpoint>`, e.line);
      endpoints.push(onlyText(e).trim());
    }
  }
  const certEl = seen.get('certificate') as XmlElement;
  const encoding = certEl.attrs.get('encoding') ?? 'pem';
  if (encoding !== 'pem') throw xmlInvalid(`certificate encoding ${encoding}: expected pem`, certEl.line);
  const pem = onlyText(certEl, ['encoding']);
  const blocks = pem.match(/-----BEGIN [^-]*-----/g) ?? [];
  if (blocks.length > 1) throw xmlInvalid('<certificate> holds more than one PEM block', certEl.line);

  const text = (name: string): string => (seen.has(name) ? onlyText(seen.get(name) as XmlElement) : '');
  const card = checkCard({
    peerId: text('peerId'),
    nickname: text('nickname'),
    displayName: text('displayName'),
    email: text('email'),
    endpoints,
    rootCertPem: pem,
  });
  verifyRootCertificate(card.rootCertPem, card.peerId);
  return card;
}
