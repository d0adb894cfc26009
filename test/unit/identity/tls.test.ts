import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { ManualClock } from '../../../firmware/core/clock.js';
import type { Clock, Timer } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import {
  loadOrCreateIdentity,
  peerChainFromSocket,
  TLS_CERT_FILE,
  TLS_KEY_FILE,
  TlsCertificates,
  verifyChain,
  verifyChainDer,
} from '../../../firmware/identity/index.js';
import type { Identity, TlsCredentials } from '../../../firmware/identity/index.js';

const DAY = 24 * 3_600_000;
const base = mkdtempSync(join(tmpdir(), 'peerhub-tls-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

type Lines = Array<Record<string, unknown>>;

/** A hub's identity, made with a good clock (the TLS clock under test may read otherwise). */
async function setup(): Promise<{ dataDir: string; identity: Identity }> {
  const dataDir = join(base, `hub-${++n}`);
  const real = Date.now();
  const { identity } = await loadOrCreateIdentity({ now: () => real, logger: silentLogger() }, { dataDir });
  return { dataDir, identity };
}

function make(clock: Clock, identity: Identity, dataDir: string, lines: Lines = []): TlsCertificates {
  return new TlsCertificates({ clock, logger: silentLogger(lines), identity }, { dataDir });
}

function rotation(tc: TlsCertificates): Promise<TlsCredentials> {
  return new Promise((resolve) => {
    const off = tc.onRotate((c) => {
      off();
      resolve(c);
    });
  });
}

function check(c: TlsCredentials, identity: Identity, now: number, synced = true): void {
  for (const purpose of ['tls-server', 'tls-client'] as const) {
    const r = verifyChain(c.chainPem, {
      now,
      anchors: [{ peerId: identity.peerId }],
      purpose,
      clockSynchronised: synced,
    });
    if (r.rootPeerId !== identity.peerId) throw new Error('peer id changed');
  }
}

t.test('issues, stores 0600, reloads the same leaf across a restart', async (t) => {
  const clock = new ManualClock(Date.now());
  const lines: Lines = [];
  const { dataDir, identity } = await setup();
  const tc = make(clock, identity, dataDir, lines);
  t.throws(() => tc.current(), { code: 'PH_ERR_TLS_CREDENTIALS' });
  await tc.start();
  await tc.start(); // idempotent
  const c = tc.current();
  t.same(c.chainPem, [c.certPem, identity.rootCertPem]);
  check(c, identity, clock.now());
  t.ok(Math.abs(c.notAfter.getTime() - (clock.now() + 30 * DAY)) < 2000, '30 days');
  const keyFile = join(dataDir, 'identity', TLS_KEY_FILE);
  t.equal(statSync(keyFile).mode & 0o777, 0o600);
  t.equal(readFileSync(join(dataDir, 'identity', TLS_CERT_FILE), 'utf8'), c.certPem);
  t.equal(clock.pending, 1, 'one check timer');
  await tc.stop();
  t.equal(clock.pending, 0, 'stop clears the timer');

  clock.advance(5 * DAY);
  const again = make(clock, identity, dataDir, lines);
  await again.start();
  t.equal(again.current().certPem, c.certPem, 'same leaf after restart');
  t.equal(again.current().keyPem, c.keyPem);
  await again.stop();
  t.notMatch(JSON.stringify(lines), /PRIVATE KEY/, 'no key material in the logs');
  t.ok(lines.some((l) => l.msg === 'TLS certificate loaded'));
});

t.test('renews before expiry, keeps the peer id, fires onRotate', async (t) => {
  const clock = new ManualClock(Date.now());
  const { dataDir, identity } = await setup();
  const tc = make(clock, identity, dataDir);
  await tc.start();
  const first = tc.current();
  let fired = 0;
  tc.onRotate(() => fired++);
  const rotated = rotation(tc);
  clock.advance(19 * DAY);
  t.equal(fired, 0, 'nothing while more than 10 days remain');
  clock.advance(2 * DAY);
  const second = await rotated;
  t.equal(fired, 1);
  t.not(second.certPem, first.certPem);
  t.not(second.keyPem, first.keyPem, 'a fresh key');
  t.equal(tc.current(), second);
  check(second, identity, clock.now());
  t.ok(second.notAfter.getTime() > first.notAfter.getTime());
  t.equal(readFileSync(join(dataDir, 'identity', TLS_CERT_FILE), 'utf8'), second.certPem, 'stored');
  await tc.stop();
});

/** A wall clock that can jump without firing timers (as setTimeout behaves when the system time jumps). */
class JumpClock implements Clock {
  t: number;
  timers: Array<{ fn: () => void; ms: number; live: boolean }> = [];
  constructor(t: number) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): Timer {
    const e = { fn, ms, live: true };
    this.timers.push(e);
    return { cancel: () => void (e.live = false) };
  }
  fireNext(): void {
    const e = this.timers.find((x) => x.live);
    if (!e) throw new Error('no timer');
    e.live = false;
    e.fn();
  }
}

t.test('a clock jump past the expiry is caught at the next (at most hourly) check', async (t) => {
  const clock = new JumpClock(Date.now());
  const { dataDir, identity } = await setup();
  const tc = make(clock, identity, dataDir);
  await tc.start();
  t.ok(
    clock.timers.filter((x) => x.live).every((x) => x.ms <= 3_600_000),
    're-check within the hour',
  );
  const first = tc.current();
  clock.t += 45 * DAY;
  const rotated = rotation(tc);
  clock.fireNext();
  const second = await rotated;
  check(second, identity, clock.now());
  t.throws(() => check(first, identity, clock.now()), { code: 'PH_ERR_CHAIN_EXPIRED' });
  await tc.stop();
});

t.test('clock at 1970: a provisional leaf, replaced once the clock is synchronised', async (t) => {
  const clock = new JumpClock(0);
  const { dataDir, identity } = await setup();
  const tc = make(clock, identity, dataDir);
  await tc.start();
  const provisional = tc.current();
  t.equal(provisional.notAfter.getTime(), identity.notAfter.getTime(), 'valid until the root notAfter');
  check(provisional, identity, Date.now(), true);
  check(provisional, identity, 0, false);
  // Restart, still at 1970: the provisional leaf is kept.
  await tc.stop();
  const again = make(clock, identity, dataDir);
  await again.start();
  t.equal(again.current().certPem, provisional.certPem);
  // NTP answers.
  clock.t = Date.now();
  const rotated = rotation(again);
  await again.checkNow();
  const normal = await rotated;
  t.ok(Math.abs(normal.notAfter.getTime() - (clock.t + 30 * DAY)) < 2000, 'a normal 30-day leaf');
  check(normal, identity, clock.t);
  await again.stop();
});

t.test('broken stored files are replaced, never trusted', async (t) => {
  const clock = new ManualClock(Date.now());
  const { dataDir, identity } = await setup();
  const tc = make(clock, identity, dataDir);
  await tc.start();
  await tc.stop();
  const other = await setup();
  const foreign = make(clock, other.identity, other.dataDir);
  await foreign.start();
  await foreign.stop();
  // A leaf from another root (with its matching key) must not be loaded.
  for (const f of [TLS_KEY_FILE, TLS_CERT_FILE]) {
    writeFileSync(join(dataDir, 'identity', f), readFileSync(join(other.dataDir, 'identity', f)));
  }
  const lines: Lines = [];
  const again = make(clock, identity, dataDir, lines);
  await again.start();
  check(again.current(), identity, clock.now());
  t.match(JSON.stringify(lines), /PH_ERR_CHAIN_(UNTRUSTED|SIGNATURE)/);
  await again.stop();
  writeFileSync(join(dataDir, 'identity', TLS_CERT_FILE), 'garbage');
  const third = make(clock, identity, dataDir);
  await third.start();
  check(third.current(), identity, clock.now());
  await third.stop();
});

t.test('mutual TLS 1.3 between two hubs on 127.0.0.1', async (t) => {
  const clock = new ManualClock(Date.now());
  const a = await setup();
  const b = await setup();
  const spoofer = await setup();
  const [ta, tb, ts] = [a, b, spoofer].map((h) => make(clock, h.identity, h.dataDir));
  for (const x of [ta!, tb!, ts!]) await x.start();
  t.teardown(() => Promise.all([ta!, tb!, ts!].map((x) => x.stop())));

  const opts = (c: TlsCredentials, peerRoot: string) => ({
    key: c.keyPem,
    cert: c.chainPem.join(''),
    ca: [peerRoot],
    minVersion: 'TLSv1.3' as const,
  });
  const serverSeen: string[] = [];
  const server = createServer({ ...opts(ta!.current(), b.identity.rootCertPem), requestCert: true }, (s) => {
    const r = verifyChainDer(peerChainFromSocket(s), {
      now: Date.now(),
      anchors: [{ peerId: b.identity.peerId }],
      purpose: 'tls-client',
    });
    serverSeen.push(r.rootPeerId);
    s.end('hello');
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;

  const dial = (c: TlsCredentials, expectedRoot: string, to = port): Promise<TLSSocket> =>
    new Promise((resolve, reject) => {
      const s = connect({
        ...opts(c, expectedRoot),
        host: '127.0.0.1',
        port: to,
        checkServerIdentity: () => undefined, // no host names: the peer id is checked instead
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });

  const s = await dial(tb!.current(), a.identity.rootCertPem);
  t.equal(s.getProtocol(), 'TLSv1.3');
  const chain = peerChainFromSocket(s);
  t.equal(chain.length, 2, 'leaf and root, the loop guarded');
  const r = verifyChainDer(chain, { now: Date.now(), anchors: 'any-self-signed', purpose: 'tls-server' });
  t.equal(r.rootPeerId, a.identity.peerId, 'client sees A');
  await new Promise((r) => s.once('end', r).resume());
  s.destroy();
  t.same(serverSeen, [b.identity.peerId], 'server sees B');

  // A hub that claims to be A with its own key: B, expecting A's root, refuses the handshake.
  const spoof = createServer({ ...opts(ts!.current(), b.identity.rootCertPem), requestCert: true }, (x) =>
    x.end(),
  );
  spoof.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => spoof.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => spoof.close(() => r())));
  const spoofPort = (spoof.address() as { port: number }).port;
  await t.rejects(dial(tb!.current(), a.identity.rootCertPem, spoofPort), /self[- ]signed|unable to verify/i);

  // The spoofer as a client of A: A's server never accepts it.
  const c = await dial(ts!.current(), a.identity.rootCertPem).catch((e: Error) => e);
  if (!(c instanceof Error))
    await new Promise((r) =>
      c
        .once('close', r)
        .on('error', () => undefined)
        .resume(),
    );
  t.same(serverSeen, [b.identity.peerId], 'the spoofer never got in');
});
