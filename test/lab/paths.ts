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

/**
 * The Node flags the appliance's systemd unit starts the agent with (deploy/systemd/peerhub.service,
 * e.g. `--max-semi-space-size=2 --no-opt`): lab agents run as the hub does, so their memory figures are the hub's.
 */
let nodeFlags: string[] | null = null;
export function unitNodeFlags(): string[] {
  if (nodeFlags) return nodeFlags; // read once: every lab agent start asks
  const unit = readFileSync(join(repoRoot(), 'deploy/systemd/peerhub.service'), 'utf8');
  const exec = /^ExecStart=\S*node\s+(.*)$/m.exec(unit)?.[1] ?? '';
  const flags: string[] = [];
  for (const word of exec.split(/\s+/)) {
    if (!word.startsWith('--')) break; // the script path ends the Node options
    flags.push(word);
  }
  return (nodeFlags = flags);
}
