/** Where the repository and the built agent are (works from test/lab and from dist/test/lab). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;
/** The repository root (works from test/lab and from dist/test/lab). */
export function repoRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'peerhub') {
      return (root = dir);
    }
    dir = dirname(dir);
  }
  throw new Error('peerhub repository root not found');
}

export function agentCliPath(): string {
  return join(repoRoot(), 'dist/firmware/cli/main.js');
}

/** Lab tests that drive agents need `npm run build` first. */
export function agentBuilt(): boolean {
  return existsSync(agentCliPath());
}
