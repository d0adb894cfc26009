/**
 * What stays on the boot partition after a first boot: the file with every line that could hold a
 * secret replaced by a comment. Pure. Line-based on purpose: it must also work on a file that is not
 * valid TOML, where there is nothing to parse.
 */

/** Keys whose values are secrets, in any spelling a user might try. */
const SECRET_KEY = /passphrase|psk|password/i;
const REMOVED = (at: string): string =>
  `# [removed by peerhub firstboot on ${at}: this line could hold a secret]`;

function opensMultiline(line: string): string | null {
  for (const q of ['"""', "'''"]) if (line.split(q).length % 2 === 0) return q;
  return null;
}

/**
 * `header` lines (comments) first, then the text with secret lines replaced. `secrets` are values known
 * to be secret (the parsed passphrase): a line holding one goes too, and if one still shows (odd
 * quoting) the whole body is dropped rather than kept.
 */
export function redact(text: string, opts: { at: string; header: string[]; secrets?: string[] }): string {
  const secrets = (opts.secrets ?? []).filter((s) => s.length > 0);
  const forms = secrets.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  const out: string[] = [];
  let inSecret: string | null = null;
  for (const line of text.split('\n')) {
    if (inSecret) {
      if (line.includes(inSecret)) inSecret = null;
      continue;
    }
    const comment = /^\s*#/.test(line);
    const secretKey = SECRET_KEY.test(line) && (!comment || line.includes('='));
    if (secretKey || forms.some((f) => line.includes(f))) {
      out.push(REMOVED(opts.at));
      if (!comment) inSecret = opensMultiline(line);
    } else out.push(line);
  }
  let body = out.join('\n');
  if (secrets.some((s) => body.includes(s)))
    body = `${REMOVED(opts.at)}\n# (the whole file: a secret could not be removed line by line)\n`;
  return [...opts.header.map((h) => `# ${h}`), body].join('\n');
}
