/**
 * A deliberately small, strict XML reader for contact files: elements, attributes, text, comments, the
 * five predefined entities and character references; nothing else. No DTD (so no entity expansion,
 * billion laughs or external entities), no processing instructions but the XML declaration, no CDATA,
 * no namespace prefixes. Bounded: the caller caps the size; nesting and element counts are capped here.
 * Iterative (no recursion), so deep nesting cannot overflow the stack.
 */
import { PeerhubError } from '../core/errors.js';

export interface XmlElement {
  name: string;
  attrs: Map<string, string>;
  children: XmlElement[];
  /** Text directly inside this element (concatenated, references decoded). */
  text: string;
  line: number;
}

export const MAX_DEPTH = 8;
export const MAX_ELEMENTS = 256;
const MAX_ATTRS = 8;

const NAME = /[A-Za-z_][A-Za-z0-9._-]*/y;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
// Characters XML 1.0 forbids outright (C0 controls but tab, LF, CR; U+FFFE/U+FFFF; lone surrogates).
const FORBIDDEN =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function xmlInvalid(why: string, line?: number): PeerhubError {
  const at = line === undefined ? '' : ` (line ${line})`;
  return new PeerhubError('PH_ERR_CONTACT_XML_INVALID', `contact file: ${why}${at}`, { statusCode: 400 });
}

function unsafe(why: string, line: number): PeerhubError {
  return new PeerhubError('PH_ERR_CONTACT_XML_UNSAFE', `contact file refused: ${why} (line ${line})`, {
    statusCode: 400,
  });
}

export function xmlLimit(why: string): PeerhubError {
  return new PeerhubError('PH_ERR_CONTACT_XML_LIMIT', `contact file refused: ${why}`, { statusCode: 413 });
}

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

class Reader {
  pos = 0;
  constructor(readonly src: string) {}

  get line(): number {
    let n = 1;
    for (let i = this.src.indexOf('\n'); i >= 0 && i < this.pos; i = this.src.indexOf('\n', i + 1)) n++;
    return n;
  }

  startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }

  skipSpace(): void {
    while (/[ \t\r\n]/.test(this.src[this.pos] ?? '')) this.pos++;
  }

  name(): string {
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.src);
    if (!m) throw xmlInvalid('expected a name', this.line);
    this.pos += m[0].length;
    if (this.src[this.pos] === ':')
      throw xmlInvalid('namespace prefixes are not used in contact files', this.line);
    return m[0];
  }

  /** Up to (not including) `end`, which must follow; moves past it. */
  until(end: string, what: string): string {
    const at = this.src.indexOf(end, this.pos);
    if (at < 0) throw xmlInvalid(`unterminated ${what}`, this.line);
    const s = this.src.slice(this.pos, at);
    this.pos = at + end.length;
    return s;
  }

  decode(raw: string): string {
    return raw.replace(/&([^;&<\s]{0,12});?/g, (ref, body: string) => {
      if (!ref.endsWith(';')) throw xmlInvalid(`bare '&' (write &amp;)`, this.line);
      const num = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(body);
      if (num) {
        const cp = num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2]);
        if (!isXmlChar(cp)) throw xmlInvalid(`character reference ${ref} is not an XML character`, this.line);
        return String.fromCodePoint(cp);
      }
      const c = PREDEFINED[body];
      if (c === undefined)
        throw unsafe(`entity reference ${ref} (only &lt; &gt; &amp; &quot; &apos;)`, this.line);
      return c;
    });
  }

  attributes(): Map<string, string> {
    const attrs = new Map<string, string>();
    for (;;) {
      const before = this.pos;
      this.skipSpace();
      const c = this.src[this.pos];
      if (c === '>' || c === '/' || c === '?' || c === undefined) return attrs;
      if (this.pos === before) throw xmlInvalid('expected a space before an attribute', this.line);
      const name = this.name();
      this.skipSpace();
      if (this.src[this.pos++] !== '=') throw xmlInvalid(`attribute ${name} has no '='`, this.line);
      this.skipSpace();
      const q = this.src[this.pos++];
      if (q !== '"' && q !== "'") throw xmlInvalid(`attribute ${name}: value must be quoted`, this.line);
      const raw = this.until(q, `attribute ${name}`);
      if (raw.includes('<')) throw xmlInvalid(`attribute ${name}: '<' in a value`, this.line);
      if (attrs.has(name)) throw xmlInvalid(`attribute ${name} given twice`, this.line);
      if (attrs.size >= MAX_ATTRS) throw xmlLimit(`more than ${MAX_ATTRS} attributes on one element`);
      attrs.set(name, this.decode(raw));
    }
  }
}

/** Parse a document (already decoded text, BOM removed) into its root element. */
export function parseXml(src: string): XmlElement {
  const bad = FORBIDDEN.exec(src);
  if (bad) {
    const line = src.slice(0, bad.index).split('\n').length;
    throw xmlInvalid(
      `character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')} is not allowed in XML`,
      line,
    );
  }
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(src)) {
    const at = src.search(/<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST)/i);
    throw unsafe('DOCTYPE and entity declarations are never processed', src.slice(0, at).split('\n').length);
  }
  const r = new Reader(src);
  if (r.startsWith('<?xml') && /[ \t\r\n?]/.test(src[5] ?? '')) {
    r.pos = 5;
    const decl = r.attributes();
    if (!r.startsWith('?>')) throw xmlInvalid('malformed XML declaration', 1);
    r.pos += 2;
    const enc = decl.get('encoding');
    if (enc !== undefined && !/^utf-?8$/i.test(enc))
      throw xmlInvalid(`encoding ${enc}: contact files are UTF-8`, 1);
    const v = decl.get('version');
    if (v !== undefined && v !== '1.0') throw xmlInvalid(`XML version ${v}: expected 1.0`, 1);
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  for (;;) {
    const lt = src.indexOf('<', r.pos);
    const textEnd = lt < 0 ? src.length : lt;
    const raw = src.slice(r.pos, textEnd);
    const top = stack[stack.length - 1];
    if (top) top.text += r.decode(raw);
    else if (raw.trim() !== '') throw xmlInvalid('text outside the root element', r.line);
    r.pos = textEnd;
    if (lt < 0) break;
    if (r.startsWith('<!--')) {
      r.pos += 4;
      if (r.until('-->', 'comment').includes('--')) throw xmlInvalid("'--' inside a comment", r.line);
    } else if (r.startsWith('<![CDATA[')) {
      throw xmlInvalid('CDATA sections are not used in contact files', r.line);
    } else if (r.startsWith('<!')) {
      throw unsafe('markup declarations are never processed', r.line);
    } else if (r.startsWith('<?')) {
      throw xmlInvalid('processing instructions are not allowed (only the XML declaration, first)', r.line);
    } else if (r.startsWith('</')) {
      r.pos += 2;
      const name = r.name();
      r.skipSpace();
      if (src[r.pos++] !== '>') throw xmlInvalid(`malformed end tag </${name}`, r.line);
      const open = stack.pop();
      if (!open) throw xmlInvalid(`end tag </${name}> without a start tag`, r.line);
      if (open.name !== name)
        throw xmlInvalid(`<${open.name}> (line ${open.line}) closed by </${name}>`, r.line);
    } else {
      r.pos += 1;
      const line = r.line;
      const name = r.name();
      if (root && stack.length === 0) throw xmlInvalid(`a second root element <${name}>`, line);
      if (stack.length >= MAX_DEPTH)
        throw xmlLimit(`elements nested deeper than ${MAX_DEPTH} (line ${line})`);
      if (++count > MAX_ELEMENTS) throw xmlLimit(`more than ${MAX_ELEMENTS} elements`);
      const el: XmlElement = { name, attrs: r.attributes(), children: [], text: '', line };
      stack[stack.length - 1]?.children.push(el);
      root ??= el;
      if (r.startsWith('/>')) r.pos += 2;
      else if (src[r.pos] === '>') {
        r.pos += 1;
        stack.push(el);
      } else if (r.pos >= src.length) {
        throw xmlInvalid(`the file ends inside the tag <${name}: truncated?`, line);
      } else throw xmlInvalid(`malformed start tag <${name}`, line);
    }
  }
  if (stack.length)
    throw xmlInvalid(`the file ends inside <${stack[stack.length - 1]?.name}>: truncated?`, r.line);
  if (!root) throw xmlInvalid('no root element: empty or not XML');
  return root;
}
