/** The result file of the last first boot, for the status LED and `peerhub doctor`. */
import { readFileSync } from 'node:fs';
import type { FirstBootStatus } from './types.js';

export const DEFAULT_RESULT_PATH = '/var/lib/peerhub-firstboot/result.json';

/**
 * null when no first boot has left a result (no file). A result that cannot be read or is not one
 * counts as a failed first boot (`ok: false`), so a fault is never hidden by a damaged file.
 */
export function readFirstBootResult(path: string = DEFAULT_RESULT_PATH): FirstBootStatus | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { ok: false, errors: [`first-boot result unreadable: ${(e as Error).message}`], at: null };
  }
  try {
    const r = JSON.parse(text) as { at?: unknown; errors?: unknown };
    if (!r || typeof r !== 'object' || !Array.isArray(r.errors)) throw new Error('not a first-boot result');
    const errors = r.errors.map(String);
    return { ok: errors.length === 0, errors, at: typeof r.at === 'string' ? r.at : null };
  } catch (e) {
    return { ok: false, errors: [`first-boot result ${path} is damaged: ${(e as Error).message}`], at: null };
  }
}

/** The errors of a failed first boot ([] when none ran or it went well). */
export function firstBootErrors(r: FirstBootStatus | null): string[] {
  return r && !r.ok ? (r.errors.length > 0 ? r.errors : ['first boot failed']) : [];
}
