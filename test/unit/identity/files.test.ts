import t from 'tap';
import type { Test } from 'tap';
import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { isPeerhubError } from '../../../firmware/core/errors.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { loadOrCreateIdentity, peerIdFromCertificate, shortId } from '../../../firmware/identity/index.js';
import type { IdentityDeps } from '../../../firmware/identity/index.js';

type Lines = Array<Record<string, unknown>>;

function deps(lines: Lines = [], now = Date.now()): IdentityDeps {
  return { now: () => now, logger: silentLogger(lines) };
}

/** Every file under dir: bytes, mode and mtime, to prove nothing was touched. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, name);
    const st = statSync(p);
    out[name] = st.isDirectory()
      ? `dir ${st.mode.toString(8)}`
      : `${st.mode.toString(8)} ${st.mtimeMs} ${readFileSync(p).toString('base64')}`;
  }
  return out;
}

const bases = new WeakMap<Test, string>();

async function made(
  t: Test,
  sub = 'data',
): Promise<{ dataDir: string; key: string; cert: string; peerId: string }> {
  // t.testdir() wipes its directory on every call: make it once per test.
  if (!bases.has(t)) bases.set(t, t.testdir());
  const dataDir = join(bases.get(t) as string, sub);
  const { identity } = await loadOrCreateIdentity(deps(), { dataDir });
  return {
    dataDir,
    key: join(dataDir, 'identity', 'root.key.pem'),
    cert: join(dataDir, 'identity', 'root.cert.pem'),
    peerId: identity.peerId,
  };
}

async function expectError(
  t: Test,
  dataDir: string,
  code: 'PH_ERR_IDENTITY_CORRUPT' | 'PH_ERR_IDENTITY_INCOMPLETE',
  ...patterns: RegExp[]
): Promise<void> {
  const before = snapshot(dataDir);
  const err = await loadOrCreateIdentity(deps(), { dataDir }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(isPeerhubError(err, code), `${code}: ${(err as Error | null)?.message}`);
  for (const re of patterns) t.match((err as Error).message, re);
  t.match((err as Error).message, /restore .* from a backup/, 'says how to restore');
  t.match(
    (err as Error).message,
    /NEW identity.*new person to every contact/,
    'says what a new identity costs',
  );
  t.same(snapshot(dataDir), before, 'nothing created, changed or deleted');
}

t.test('first start creates, later starts load the same identity', async (t) => {
  const dataDir = join(t.testdir(), 'nested', 'data');
  const lines: Lines = [];
  const first = await loadOrCreateIdentity(deps(lines), { dataDir });
  t.equal(first.created, true);
  const id = first.identity;
  t.match(id.peerId, /^([A-Z2-7]{7}-){7}[A-Z2-7]{7}$/);
  t.equal(id.shortId, shortId(id.peerId));
  t.equal(peerIdFromCertificate(id.rootCertPem), id.peerId);
  t.ok(Object.isFrozen(id));

  const dir = join(dataDir, 'identity');
  t.equal(statSync(dataDir).mode & 0o777, 0o700, 'data dir 0700 when we create it');
  t.equal(statSync(dir).mode & 0o777, 0o700, 'identity dir 0700');
  t.equal(statSync(join(dir, 'root.key.pem')).mode & 0o777, 0o600, 'key 0600');
  t.equal(statSync(join(dir, 'root.cert.pem')).mode & 0o777, 0o600, 'cert 0600');
  t.same(readdirSync(dir).sort(), ['root.cert.pem', 'root.key.pem']);
  t.same(readdirSync(dataDir), ['identity'], 'no staging directory left behind');
  t.equal(readFileSync(join(dir, 'root.key.pem'), 'utf8'), id.rootKeyPem);

  const before = snapshot(dataDir);
  const second = await loadOrCreateIdentity(deps(lines), { dataDir });
  t.equal(second.created, false);
  t.equal(second.identity.peerId, id.peerId, 'same peer id');
  t.equal(second.identity.rootCertPem, id.rootCertPem);
  t.same(snapshot(dataDir), before, 'loading writes nothing');

  t.match(lines, [
    { level: 'info', id: id.shortId, msg: 'identity created' },
    { level: 'info', id: id.shortId, msg: 'identity loaded' },
  ]);
  const logged = JSON.stringify(lines);
  t.notMatch(logged, /PRIVATE KEY/, 'no key material in logs');
  t.notMatch(logged, id.rootKeyPem.split('\n')[1] as string);
  t.notMatch(logged, id.peerId, 'only the short id');
});

t.test('clock at 1970 creates a root valid at 1970 and today', async (t) => {
  const dataDir = t.testdir();
  const { identity } = await loadOrCreateIdentity(deps([], 0), { dataDir });
  t.equal(identity.notBefore.getTime(), 0);
  const x = new X509Certificate(identity.rootCertPem);
  t.ok(new Date(x.validFrom).getTime() <= 0);
  t.ok(new Date(x.validTo).getTime() > Date.now());
  const lines: Lines = [];
  const again = await loadOrCreateIdentity(deps(lines, 0), { dataDir });
  t.equal(again.identity.peerId, identity.peerId);
  t.notOk(
    lines.some((l) => l.level === 'warn'),
    'no clock warning at 1970',
  );
});

t.test('concurrent first starts end with one identity', async (t) => {
  const dataDir = t.testdir();
  const results = await Promise.all([1, 2, 3].map(() => loadOrCreateIdentity(deps(), { dataDir })));
  t.equal(new Set(results.map((r) => r.identity.peerId)).size, 1, 'same peer id everywhere');
  t.equal(results.filter((r) => r.created).length, 1, 'exactly one created it');
  t.same(readdirSync(dataDir), ['identity'], 'losers cleaned up their staging directories');
});

t.test('an empty identity directory is filled', async (t) => {
  const dataDir = t.testdir({ identity: {} });
  const r = await loadOrCreateIdentity(deps(), { dataDir });
  t.equal(r.created, true);
});

t.test('corrupt, truncated, unreadable or mismatched files are refused and left alone', async (t) => {
  t.test('garbage key', async (t) => {
    const m = await made(t);
    writeFileSync(m.key, 'not a key\n');
    await expectError(t, m.dataDir, 'PH_ERR_IDENTITY_CORRUPT', /root\.key\.pem is corrupt or truncated/);
  });
  t.test('truncated key', async (t) => {
    const m = await made(t);
    writeFileSync(m.key, readFileSync(m.key).subarray(0, 500));
    await expectError(
      t,
      m.dataDir,
      'PH_ERR_IDENTITY_CORRUPT',
      new RegExp(`${m.key} is corrupt or truncated`),
    );
  });
  t.test('empty key', async (t) => {
    const m = await made(t);
    writeFileSync(m.key, '');
    await expectError(t, m.dataDir, 'PH_ERR_IDENTITY_CORRUPT', /root\.key\.pem is corrupt/);
  });
  t.test('truncated certificate', async (t) => {
    const m = await made(t);
    writeFileSync(m.cert, readFileSync(m.cert).subarray(0, 300));
    await expectError(
      t,
      m.dataDir,
      'PH_ERR_IDENTITY_CORRUPT',
      new RegExp(`${m.cert} is corrupt or truncated`),
    );
  });
  t.test('key of another identity', async (t) => {
    const m = await made(t);
    const other = await made(t, 'other');
    t.not(other.peerId, m.peerId);
    writeFileSync(m.key, readFileSync(other.key));
    await expectError(t, m.dataDir, 'PH_ERR_IDENTITY_CORRUPT', /do not form one identity/, /does not match/);
  });
  t.test('unreadable key (a directory)', async (t) => {
    const m = await made(t);
    unlinkSync(m.key);
    mkdirSync(m.key);
    await expectError(t, m.dataDir, 'PH_ERR_IDENTITY_CORRUPT', /root\.key\.pem cannot be read \(EISDIR\)/);
  });
  t.test('identity path is a file', async (t) => {
    const dataDir = t.testdir({ identity: 'oops' });
    await expectError(t, dataDir, 'PH_ERR_IDENTITY_CORRUPT', /identity directory .* cannot be read/);
  });
});

t.test('half an identity is refused and left alone', async (t) => {
  t.test('key without certificate', async (t) => {
    const m = await made(t);
    unlinkSync(m.cert);
    await expectError(t, m.dataDir, 'PH_ERR_IDENTITY_INCOMPLETE', new RegExp(`${m.cert} missing`));
  });
  t.test('certificate without key', async (t) => {
    const m = await made(t);
    unlinkSync(m.key);
    await expectError(t, m.dataDir, 'PH_ERR_IDENTITY_INCOMPLETE', new RegExp(`${m.key} missing`));
  });
  t.test('other files but no root', async (t) => {
    const dataDir = t.testdir({ identity: { 'tls.cert.pem': 'x' } });
    await expectError(t, dataDir, 'PH_ERR_IDENTITY_INCOMPLETE', /holds tls\.cert\.pem/);
  });
});

t.test('a key readable by others is loaded with a warning, not changed', async (t) => {
  const m = await made(t);
  chmodSync(m.key, 0o644);
  const lines: Lines = [];
  const r = await loadOrCreateIdentity(deps(lines), { dataDir: m.dataDir });
  t.equal(r.identity.peerId, m.peerId);
  t.match(lines, [{ level: 'warn', file: m.key, mode: '644' }]);
  t.equal(statSync(m.key).mode & 0o777, 0o644);
});

t.test('a staging directory left by an interrupted first start is reported, not deleted', async (t) => {
  const m = await made(t);
  const stale = join(m.dataDir, '.identity.staging-123-abcd');
  mkdirSync(stale);
  writeFileSync(join(stale, 'root.key.pem'), 'half');
  const lines: Lines = [];
  await loadOrCreateIdentity(deps(lines), { dataDir: m.dataDir });
  t.match(lines, [{ level: 'info' }, { level: 'warn', dirs: [stale] }]);
  t.equal(readFileSync(join(stale, 'root.key.pem'), 'utf8'), 'half');
});
