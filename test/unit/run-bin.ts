import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled `peerhub` binary (npm test builds first), run as a user would. */
export const bin = fileURLToPath(new URL('../../dist/firmware/cli/main.js', import.meta.url));

export function runBin(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
