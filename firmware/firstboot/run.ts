/** `peerhub firstboot`: apply the boot partition's peerhub.toml to this system (see apply.ts). */
import { createLogger, type LogLevel } from '../core/logger.js';
import { applyFirstBoot, execRunner } from './apply.js';

export interface FirstBootOptions {
  bootDir: string;
  root: string;
  result?: string;
}

/** Exit code: 0 = applied (possibly with some field errors) or nothing to do; 1 = not applied. */
export async function runFirstBoot(
  o: FirstBootOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const level = (env.PEERHUB_LOG_LEVEL as LogLevel | undefined) ?? 'info';
  const logger = createLogger(level);
  const r = await applyFirstBoot(
    { logger, run: execRunner },
    { bootDir: o.bootDir, root: o.root, resultPath: o.result },
  );
  return r.exitCode;
}
