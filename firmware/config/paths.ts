import { homedir, hostname } from 'node:os';
import { join } from 'node:path';

/** A user data directory: $XDG_DATA_HOME/peerhub or ~/.local/share/peerhub. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return join(base, 'peerhub');
}

export function defaultNickname(): string {
  const h = hostname().split('.')[0] || 'peerhub';
  return h.slice(0, 63);
}
