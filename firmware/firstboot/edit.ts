/** Pure text edits of files the first boot changes in place: /etc/hosts, peerhub.toml, authorized_keys. */
import { isDeepStrictEqual } from 'node:util';
import { parse as parseToml, stringify } from 'smol-toml';
import { protoKeyAt, protoKeyMessage } from '../core/toml.js';
import { keyId } from './ssh-keys.js';

const lines = (text: string | undefined): string[] => {
  const l = (text ?? '').split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
};

/** Set (or add) the `127.0.1.1 <name>` line, Debian's way of resolving the host's own name. */
export function editHosts(text: string | undefined, name: string): string {
  const entry = `127.0.1.1\t${name}`;
  const out: string[] = [];
  let done = false;
  for (const l of lines(text ?? '127.0.0.1\tlocalhost\n')) {
    if (/^\s*127\.0\.1\.1\s/.test(l)) {
      if (!done) out.push(entry);
      done = true;
    } else out.push(l);
  }
  if (!done) {
    const lo = out.findIndex((l) => /^\s*127\.0\.0\.1\s/.test(l));
    out.splice(lo < 0 ? out.length : lo + 1, 0, entry);
  }
  return out.join('\n') + '\n';
}

/**
 * Set top-level string keys of a TOML document, keeping every other key (and, when possible, the
 * comments): edit the `key = …` line before the first table, check the result parses to exactly the
 * intended document, and otherwise fall back to parse + stringify. Throws if `text` is not TOML.
 */
export function setTomlKeys(text: string | undefined, values: Record<string, string>): string {
  const doc = parseToml(text ?? '');
  const proto = protoKeyAt(doc);
  if (proto !== null) throw new Error(protoKeyMessage(proto));
  const want = Object.assign(doc, values);
  const out = lines(text);
  let firstTable = out.findIndex((l) => /^\s*\[/.test(l));
  if (firstTable < 0) firstTable = out.length;
  for (const [key, value] of Object.entries(values)) {
    const entry = stringify({ [key]: value }).trim();
    const i = out.slice(0, firstTable).findIndex((l) => new RegExp(`^\\s*${key}\\s*=`).test(l));
    if (i >= 0) out[i] = entry;
    else {
      // After the last top-level line that is not blank, or at the very top.
      let at = firstTable;
      while (at > 0 && out[at - 1]!.trim() === '') at--;
      out.splice(at, 0, entry);
      firstTable++;
    }
  }
  const edited = out.join('\n') + '\n';
  try {
    if (isDeepStrictEqual(parseToml(edited), want)) return edited;
  } catch {
    // fall through: multi-line values or odd layouts
  }
  return stringify(want) + '\n';
}

/** Append keys not already authorised (same type + blob), keeping existing lines as they are. */
export function mergeAuthorizedKeys(
  text: string | undefined,
  keys: readonly string[],
): { text: string; added: number } {
  const out = lines(text);
  const have = new Set(out.map((l) => keyId(l) ?? l.trim()));
  let added = 0;
  for (const k of keys) {
    const id = keyId(k) ?? k.trim();
    if (have.has(id)) continue;
    have.add(id);
    out.push(k);
    added++;
  }
  return { text: out.length ? out.join('\n') + '\n' : '', added };
}
