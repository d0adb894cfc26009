/**
 * TOML documents from smol-toml are null-prototype objects, so a key named `__proto__` is an ordinary
 * own key there — but copied into a plain object (`cfg[k] = v`) it replaces that object's prototype
 * when its value is an object (a date, an inline table), and the object inherits keys nobody wrote.
 * Found by the fuzzer (`__proto__=2979-05-27T07:00`). Such documents are refused before any copy.
 */

function isDateValue(v: object): boolean {
  return Object.prototype.toString.call(v) === '[object Date]';
}

/**
 * Where `doc` holds a `__proto__` key (or a table whose prototype is neither null nor Object's): the
 * dotted path of the table ('' for the document itself), or null when there is none.
 */
export function protoKeyAt(doc: unknown, path = ''): string | null {
  if (typeof doc !== 'object' || doc === null || isDateValue(doc)) return null;
  if (Array.isArray(doc)) {
    for (const [i, v] of doc.entries()) {
      const at = protoKeyAt(v, `${path}[${i}]`);
      if (at !== null) return at;
    }
    return null;
  }
  const proto = Object.getPrototypeOf(doc) as unknown;
  if (Object.hasOwn(doc, '__proto__') || (proto !== null && proto !== Object.prototype)) return path;
  for (const [k, v] of Object.entries(doc)) {
    const at = protoKeyAt(v, path ? `${path}.${k}` : k);
    if (at !== null) return at;
  }
  return null;
}

/** The message for a document where protoKeyAt found something. */
export function protoKeyMessage(at: string): string {
  return `the key "__proto__" is not allowed${at ? ` (in ${at})` : ''}`;
}
