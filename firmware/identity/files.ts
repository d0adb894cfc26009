/**
 * The identity on disk: `<dataDir>/identity/root.key.pem` (0600) and `root.cert.pem` (0600), in a 0700
 * directory. Created once, atomically and exclusively: both files are written and fsynced in a private
 * staging directory which is then renamed into place — a rename onto an existing non-empty directory
 * fails, so two racing starts end with one identity, and a crash never leaves half an identity.
 * Existing identity files are never overwritten, repaired or deleted.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PeerhubError } from '../core/errors.js';
import { checkRootPair, createRootCertificate, generateRootKeyPair, RootCheckError } from './cert.js';
import { shortId } from './peerid.js';
import type { Identity, IdentityDeps, IdentityInit } from './types.js';

export const IDENTITY_DIR = 'identity';
export const ROOT_KEY_FILE = 'root.key.pem';
export const ROOT_CERT_FILE = 'root.cert.pem';
const STAGING_PREFIX = `.${IDENTITY_DIR}.staging-`;

export interface IdentityPaths {
  dir: string;
  key: string;
  cert: string;
}

export function identityPaths(dataDir: string): IdentityPaths {
  const dir = join(dataDir, IDENTITY_DIR);
  return { dir, key: join(dir, ROOT_KEY_FILE), cert: join(dir, ROOT_CERT_FILE) };
}

function recovery(dir: string): string {
  return (
    `To recover, restore ${dir} from a backup. Or, to start over with a NEW identity, move it aside ` +
    `(mv ${dir} ${dir}.old) and start peerhub again — a new identity is a new person to every contact, ` +
    `who must add this hub again.`
  );
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/** Write a new file exclusively (O_EXCL), fsync it, close it. */
async function writeNewFile(path: string, data: string, mode: number): Promise<void> {
  const fh = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
  try {
    await fh.chmod(mode); // regardless of umask
    await fh.writeFile(data, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory, so a rename inside it survives power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readIdentityFile(path: string, dir: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new PeerhubError(
      'PH_ERR_IDENTITY_CORRUPT',
      `identity file ${path} cannot be read (${errno(e) ?? (e as Error).message}). ${recovery(dir)}`,
      { cause: e },
    );
  }
}

async function load(deps: IdentityDeps, p: IdentityPaths): Promise<Identity> {
  const keyPem = await readIdentityFile(p.key, p.dir);
  const certPem = await readIdentityFile(p.cert, p.dir);
  let info;
  try {
    info = checkRootPair(certPem, keyPem);
  } catch (e) {
    const which = e instanceof RootCheckError ? e.which : 'pair';
    const what =
      which === 'key'
        ? `identity file ${p.key} is corrupt or truncated`
        : which === 'cert'
          ? `identity file ${p.cert} is corrupt or truncated`
          : `identity files ${p.key} and ${p.cert} do not form one identity`;
    throw new PeerhubError(
      'PH_ERR_IDENTITY_CORRUPT',
      `${what}: ${(e as Error).message}. ${recovery(p.dir)}`,
      {
        cause: e,
      },
    );
  }
  const id = shortId(info.peerId);
  const mode = (await stat(p.key)).mode & 0o777;
  if (mode & 0o077) {
    deps.logger.warn(
      { id, file: p.key, mode: mode.toString(8) },
      'root key file is readable by others: chmod 600 it (peerhub does not change it)',
    );
  }
  const now = deps.now();
  if (now < info.notBefore.getTime() || now > info.notAfter.getTime()) {
    deps.logger.warn(
      { id, now: new Date(now).toISOString(), notBefore: info.notBefore, notAfter: info.notAfter },
      'clock is outside the identity root validity: check the system time',
    );
  }
  return Object.freeze({
    peerId: info.peerId,
    shortId: id,
    rootCertPem: certPem,
    rootKeyPem: keyPem,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
  });
}

/** Create a fresh identity in a staging directory and rename it into place; false if another won. */
async function create(deps: IdentityDeps, dataDir: string, p: IdentityPaths): Promise<boolean> {
  const staging = join(dataDir, `${STAGING_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging, { mode: 0o700 });
  try {
    await chmod(staging, 0o700);
    const keys = await generateRootKeyPair();
    const certPem = createRootCertificate({ ...keys, now: deps.now() });
    await writeNewFile(join(staging, ROOT_KEY_FILE), keys.privateKeyPem, 0o600);
    await writeNewFile(join(staging, ROOT_CERT_FILE), certPem, 0o600);
    await fsyncDir(staging);
    try {
      await rename(staging, p.dir);
    } catch (e) {
      // Another start (or a user) put something there first: never replace it.
      if (['ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EISDIR'].includes(errno(e) ?? '')) return false;
      throw e;
    }
    await fsyncDir(dataDir);
    return true;
  } finally {
    // Only our own, never-published staging directory; a no-op after a successful rename.
    await rm(staging, { recursive: true, force: true });
  }
}

/** A first start killed mid-way leaves its staging directory (an unused key): say so, never delete it. */
async function warnStaleStaging(deps: IdentityDeps, dataDir: string): Promise<void> {
  const stale = (await readdir(dataDir).catch(() => [] as string[])).filter((f) =>
    f.startsWith(STAGING_PREFIX),
  );
  if (stale.length > 0) {
    deps.logger.warn(
      { dirs: stale.map((f) => join(dataDir, f)) },
      'unused identity staging directories from an interrupted first start: safe to delete while peerhub is stopped',
    );
  }
}

/** What is at the identity directory now. */
async function survey(p: IdentityPaths): Promise<{ key: boolean; cert: boolean; others: string[] }> {
  let entries: string[];
  try {
    entries = await readdir(p.dir);
  } catch (e) {
    if (errno(e) === 'ENOENT') return { key: false, cert: false, others: [] };
    throw new PeerhubError(
      'PH_ERR_IDENTITY_CORRUPT',
      `identity directory ${p.dir} cannot be read (${errno(e) ?? (e as Error).message}). ${recovery(p.dir)}`,
      { cause: e },
    );
  }
  return {
    key: entries.includes(ROOT_KEY_FILE),
    cert: entries.includes(ROOT_CERT_FILE),
    others: entries.filter((f) => f !== ROOT_KEY_FILE && f !== ROOT_CERT_FILE),
  };
}

/**
 * Load the identity under `<dataDir>/identity/`, or create it on first start. Throws
 * PH_ERR_IDENTITY_CORRUPT / PH_ERR_IDENTITY_INCOMPLETE with the file, the problem and the way out.
 */
export async function loadOrCreateIdentity(
  deps: IdentityDeps,
  init: IdentityInit,
): Promise<{ identity: Identity; created: boolean }> {
  const p = identityPaths(init.dataDir);
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    const s = await survey(p);
    if (s.key && s.cert) {
      const identity = await load(deps, p);
      deps.logger.info({ id: identity.shortId, dir: p.dir }, 'identity loaded');
      await warnStaleStaging(deps, init.dataDir);
      return { identity, created: false };
    }
    if (s.key || s.cert || s.others.length > 0) {
      const missing = [s.key ? null : p.key, s.cert ? null : p.cert].filter(Boolean).join(' and ');
      throw new PeerhubError(
        'PH_ERR_IDENTITY_INCOMPLETE',
        `identity is incomplete: ${missing} missing` +
          (s.others.length ? ` (${p.dir} holds ${s.others.join(', ')})` : '') +
          `. ${recovery(p.dir)}`,
      );
    }
    if (await create(deps, init.dataDir, p)) {
      const identity = await load(deps, p);
      deps.logger.info({ id: identity.shortId, dir: p.dir }, 'identity created');
      return { identity, created: true };
    }
  }
  throw new PeerhubError('PH_ERR_IDENTITY_INCOMPLETE', `identity at ${p.dir} kept changing while starting`);
}
