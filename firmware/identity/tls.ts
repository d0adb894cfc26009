/**
 * Short-lived TLS credentials signed by the identity root (DESIGN "Identity and trust"): a fresh RSA
 * leaf key, certified for 30 days and renewed 10 days before it expires. Rotation never changes the
 * peer id: every leaf chains to the same root.
 *
 * Files: `<dataDir>/identity/tls.key.pem` (0600) and `tls.cert.pem`, each replaced atomically (temp,
 * fsync, rename, fsync dir). A crash between the two renames leaves a pair that does not match: the
 * next start notices and issues a new one (these are derived credentials; only the root is precious).
 *
 * Clock: while it is not synchronised (default test: it reads before 2020-01-01 or before the root's
 * notBefore; the agent may pass a better one) the clock cannot date a 30-day window that peers with a
 * good clock would accept, so the leaf is *provisional*: valid until the root's notAfter. It is
 * replaced by a normal leaf at the first check after the clock is synchronised. Checks run at least
 * hourly (and on `checkNow()`), so a clock jump is noticed within the hour.
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, Timer } from '../core/clock.js';
import { isPeerhubError, PeerhubError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { generateRootKeyPair } from './cert.js';
import { CLOCK_SANE_FLOOR, verifyChain } from './chain.js';
import { fsyncDir, identityPaths } from './files.js';
import { issueCertificate } from './issue.js';
import type { Identity } from './types.js';

export interface TlsCredentials {
  keyPem: string;
  certPem: string;
  /** [leaf, root]. */
  chainPem: string[];
  notAfter: Date;
}

export interface TlsCertificatesDeps {
  clock: Clock;
  logger: Logger;
  identity: Identity;
}

export interface TlsCertificatesInit {
  dataDir: string;
  /** Default TLS_VALIDITY_MS (30 days). */
  validityMs?: number;
  /** Renew when less than this remains; default TLS_RENEW_BEFORE_MS (10 days). */
  renewBeforeMs?: number;
  /** Whether the clock can be trusted; default: it reads after 2020-01-01 and after the root's notBefore. */
  clockSynchronised?: () => boolean;
}

const DAY_MS = 24 * 3_600_000;
export const TLS_VALIDITY_MS = 30 * DAY_MS;
export const TLS_RENEW_BEFORE_MS = 10 * DAY_MS;
/** Longest time between two checks, whatever the expiry says. */
export const TLS_CHECK_INTERVAL_MS = 3_600_000;
/** After a failed renewal (disk full, …), try again this soon. */
export const TLS_RETRY_MS = 5 * 60_000;
export const TLS_KEY_FILE = 'tls.key.pem';
export const TLS_CERT_FILE = 'tls.cert.pem';
const TEMP_MARK = '.tmp-';

type Verdict = { ok: true; creds: TlsCredentials } | { ok: false; why: string };

export class TlsCertificates {
  private readonly log: Logger;
  private readonly dir: string;
  private readonly validityMs: number;
  private readonly renewBeforeMs: number;
  private readonly listeners = new Set<(c: TlsCredentials) => void>();
  private creds: TlsCredentials | undefined;
  private timer: Timer | undefined;
  private starting: Promise<void> | undefined;
  private busy: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly deps: TlsCertificatesDeps,
    private readonly init: TlsCertificatesInit,
  ) {
    this.log = deps.logger.child({ component: 'tls-certificates', id: deps.identity.shortId });
    this.dir = identityPaths(init.dataDir).dir;
    this.validityMs = init.validityMs ?? TLS_VALIDITY_MS;
    this.renewBeforeMs = init.renewBeforeMs ?? TLS_RENEW_BEFORE_MS;
    if (!(this.validityMs > 0) || !(this.renewBeforeMs >= 0) || this.renewBeforeMs >= this.validityMs) {
      throw new PeerhubError(
        'PH_ERR_TLS_CREDENTIALS',
        'TLS validity must be positive and exceed renewBefore',
      );
    }
  }

  /** Load the stored leaf if still good, else issue one; then keep it fresh. Idempotent. */
  start(): Promise<void> {
    this.starting ??= this.startOnce().catch((e: unknown) => {
      this.starting = undefined;
      throw e;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    await this.busy?.catch(() => undefined);
    this.starting = undefined;
  }

  current(): TlsCredentials {
    if (!this.creds)
      throw new PeerhubError('PH_ERR_TLS_CREDENTIALS', 'TLS credentials not loaded: start() first');
    return this.creds;
  }

  onRotate(fn: (c: TlsCredentials) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /** Re-check now (e.g. when the clock has just been synchronised). */
  async checkNow(): Promise<void> {
    if (!this.running) return;
    this.timer?.cancel();
    await this.check();
  }

  private async startOnce(): Promise<void> {
    await this.removeStaleTemps();
    const stored = await this.loadStored();
    if (stored.ok && !this.needsRenewal(stored.creds)) {
      this.creds = stored.creds;
      this.log.info({ notAfter: stored.creds.notAfter.toISOString() }, 'TLS certificate loaded');
    } else {
      if (!stored.ok) this.log.info({ reason: stored.why }, 'issuing a new TLS certificate');
      try {
        this.creds = await this.issueAndStore();
      } catch (e) {
        throw new PeerhubError('PH_ERR_TLS_CREDENTIALS', `issue TLS certificate: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
    this.running = true;
    this.schedule(this.delayFor(this.creds));
  }

  /** Whether the clock can be trusted for validity checks (chain validation tolerates it otherwise). */
  clockSynchronised(): boolean {
    if (this.init.clockSynchronised) return this.init.clockSynchronised();
    const now = this.deps.clock.now();
    return now >= CLOCK_SANE_FLOOR && now >= this.deps.identity.notBefore.getTime();
  }

  private provisional(c: TlsCredentials): boolean {
    const nb = new Date(new X509Certificate(c.certPem).validFrom).getTime();
    return c.notAfter.getTime() - nb > this.validityMs + DAY_MS;
  }

  /** Unsynchronised: only a provisional leaf will do. Synchronised: a normal one with time to spare. */
  private needsRenewal(c: TlsCredentials): boolean {
    if (!this.clockSynchronised()) return !this.provisional(c);
    return this.provisional(c) || c.notAfter.getTime() - this.deps.clock.now() < this.renewBeforeMs;
  }

  private delayFor(c: TlsCredentials): number {
    const untilRenewal = c.notAfter.getTime() - this.renewBeforeMs - this.deps.clock.now();
    return Math.max(1000, Math.min(TLS_CHECK_INTERVAL_MS, untilRenewal));
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimer(ms, () => void this.check());
  }

  private check(): Promise<void> {
    if (this.busy) return this.busy;
    const old = this.creds;
    if (!old || !this.running) return Promise.resolve();
    // Decided synchronously: a timer set here is honoured even by a clock that fires it at once.
    if (!this.needsRenewal(old)) {
      this.schedule(this.delayFor(old));
      return Promise.resolve();
    }
    this.busy = this.renew().finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  private async renew(): Promise<void> {
    try {
      const fresh = await this.issueAndStore();
      if (!this.running) return;
      this.creds = fresh;
      this.emit(fresh);
      this.schedule(this.delayFor(fresh));
    } catch (e) {
      this.log.error({ err: (e as Error).message, retryMs: TLS_RETRY_MS }, 'TLS certificate renewal failed');
      this.schedule(TLS_RETRY_MS);
    }
  }

  private emit(c: TlsCredentials): void {
    this.log.info({ notAfter: c.notAfter.toISOString() }, 'TLS certificate rotated');
    for (const fn of [...this.listeners]) {
      try {
        fn(c);
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'TLS rotation listener failed');
      }
    }
  }

  private async issueAndStore(): Promise<TlsCredentials> {
    const { identity, clock } = this.deps;
    const now = clock.now();
    const synced = this.clockSynchronised();
    const keys = await generateRootKeyPair();
    const certPem = issueCertificate({
      issuerCertPem: identity.rootCertPem,
      issuerKeyPem: identity.rootKeyPem,
      subjectPublicKeyPem: keys.publicKeyPem,
      profile: 'tls',
      now,
      // Provisional: up to the root's notAfter (see the top of this file).
      validityMs: synced ? this.validityMs : Math.max(identity.notAfter.getTime() - now, this.validityMs),
    });
    await this.writeAtomic(TLS_KEY_FILE, keys.privateKeyPem);
    await this.writeAtomic(TLS_CERT_FILE, certPem);
    await fsyncDir(this.dir);
    const creds = this.credentials(keys.privateKeyPem, certPem);
    this.log.info({ notAfter: creds.notAfter.toISOString(), provisional: !synced }, 'TLS certificate issued');
    return creds;
  }

  private credentials(keyPem: string, certPem: string): TlsCredentials {
    const notAfter = new Date(new X509Certificate(certPem).validTo);
    return { keyPem, certPem, chainPem: [certPem, this.deps.identity.rootCertPem], notAfter };
  }

  private async loadStored(): Promise<Verdict> {
    let keyPem: string;
    let certPem: string;
    try {
      keyPem = await readFile(join(this.dir, TLS_KEY_FILE), 'utf8');
      certPem = await readFile(join(this.dir, TLS_CERT_FILE), 'utf8');
    } catch (e) {
      return {
        ok: false,
        why: `no stored certificate (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      };
    }
    const { identity, clock } = this.deps;
    try {
      if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) {
        return { ok: false, why: 'stored key and certificate do not match' };
      }
      const opts = {
        now: clock.now(),
        anchors: [{ peerId: identity.peerId }],
        clockSynchronised: this.clockSynchronised(),
      };
      verifyChain([certPem, identity.rootCertPem], { ...opts, purpose: 'tls-server' });
      verifyChain([certPem, identity.rootCertPem], { ...opts, purpose: 'tls-client' });
    } catch (e) {
      const code = isPeerhubError(e) ? `${e.code}: ` : '';
      return { ok: false, why: `stored certificate unusable (${code}${(e as Error).message})` };
    }
    return { ok: true, creds: this.credentials(keyPem, certPem) };
  }

  /** Replace `name` atomically: write a temp file (0600, fsync), rename it over the old one. */
  private async writeAtomic(name: string, data: string): Promise<void> {
    const tmp = join(this.dir, `.${name}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
      try {
        await fh.chmod(0o600);
        await fh.writeFile(data, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, name));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Temp files of a run killed mid-write: ours by name, never published, safe to remove. */
  private async removeStaleTemps(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const ours = names.filter((f) =>
      [TLS_KEY_FILE, TLS_CERT_FILE].some((n) => f.startsWith(`.${n}${TEMP_MARK}`)),
    );
    await Promise.all(ours.map((f) => rm(join(this.dir, f), { force: true })));
  }
}
