/**
 * First boot: a `peerhub.toml` on the FAT boot partition, applied once by `peerhub firstboot`.
 * The contract: what a valid file yields, the actions it plans, and the result it leaves behind.
 */

/** The valid subset of a first-boot file (every field optional). */
export interface FirstBootSettings {
  hostname?: string;
  nickname?: string;
  classifier?: string;
  timezone?: string;
  /** Absent passphrase = an open network. `country` is upper case. */
  wifi?: { ssid: string; passphrase?: string; country: string };
  /** Only the lines that passed validation, deduplicated. */
  ssh?: { authorized_keys: string[] };
}

/** What parsing a first-boot file gives: never throws; `parsed: false` = not TOML, nothing to apply. */
export interface ParseOutcome {
  parsed: boolean;
  settings: FirstBootSettings;
  /** One line each, naming the key; never contains a secret. */
  errors: string[];
  warnings: string[];
}

interface Owned {
  mode: number;
  /** Owner ids; absent = leave as created (root when run as root). */
  uid?: number;
  gid?: number;
}

/** One step of the plan; paths are absolute inside the target root (joined with it when applied). */
export type Action =
  | ({ kind: 'mkdir'; what: string; path: string } & Owned)
  | ({ kind: 'write'; what: string; path: string; content: string } & Owned)
  | { kind: 'symlink'; what: string; path: string; target: string }
  | { kind: 'remove'; what: string; path: string }
  | { kind: 'run'; what: string; argv: string[] };

/** Files the plan depends on, read from the target root before planning (undefined = absent). */
export interface Snapshot {
  passwd?: string;
  hosts?: string;
  peerhubToml?: { text: string; mode: number; uid: number; gid: number };
  authorizedKeys?: string;
}

/** The record left in /var/lib/peerhub-firstboot/result.json (no secrets). */
export interface FirstBootResult {
  at: string;
  /** `applied` (the file parsed; see errors), `invalid` (not TOML, nothing applied). */
  outcome: 'applied' | 'invalid';
  /** Where the (redacted) boot file went. */
  bootFile: string;
  applied: string[];
  errors: string[];
  warnings: string[];
}

/** What the status LED and `peerhub doctor` need: did the last first boot go cleanly? */
export interface FirstBootStatus {
  ok: boolean;
  errors: string[];
  at: string | null;
}
