/** Saved findings: test/torture/fuzz/corpus/<target>/{crash,hang}-<hash>.bin, replayed by a test forever. */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashOf, type Finding } from './engine.js';
import { repoRoot } from './targets/files.js';

export const corpusDir = (target?: string): string =>
  join(repoRoot(), 'test/torture/fuzz/corpus', ...(target ? [target] : []));

/** Save a finding (minimised); returns the path relative to the repository. */
export function saveFinding(target: string, f: Finding): string {
  const dir = corpusDir(target);
  mkdirSync(dir, { recursive: true });
  const name = `${f.kind}-${hashOf(f.minimized)}.bin`;
  writeFileSync(join(dir, name), f.minimized);
  return `test/torture/fuzz/corpus/${target}/${name}`;
}

/** Every saved input of a target (sorted by name). */
export function savedInputs(target: string): Array<{ name: string; input: Buffer }> {
  const dir = corpusDir(target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((name) => ({ name, input: readFileSync(join(dir, name)) }));
}
