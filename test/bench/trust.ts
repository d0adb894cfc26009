/**
 * Trust benchmark (issue 3, "Figures"): the mutual-TLS peer API of a real agent, the contact manager
 * with 1,000 contacts, and the durable store. Prints a table; JSON into docs/bench/trust.json.
 *
 *   npm run bench -- --only trust                       (through run.ts)
 *   node dist/test/bench/trust.js [--parts tls,contacts,store] [--handshakes 200] [--requests 300]
 *       [--contacts 1000] [--writes 300] [--trust-out docs/bench/trust.json]
 *
 * - tls (lab: root + namespaces + a built agent): hub Alice in node 0, hub Bob in node 1 (contacts of
 *   each other when the agent can); test/lab/peer_client.mjs runs in Bob's namespace with Bob's TLS
 *   leaf and Alice's root as CA: (1) handshake = TCP connect + mutual TLS 1.3 handshake until the
 *   client's secureConnect (the server checks the client chain right after); (2) cold request = new
 *   session + first GET; (3) warm round trip = GET /v1/presence on one session, paced under the per-peer
 *   rate limit (20/s) so no request is throttled.
 * - contacts (in-process, dist/firmware/contacts, real files in a temp dir): 1,000 distinct RSA-2048
 *   roots are made quickly for the benchmark (a pool of primes combined in pairs, certificates built by
 *   forge and signed through Node's crypto), then add (each one a durable write of the whole file),
 *   open (load + validate), lookup by id / short id / nickname, list, export to XML, parse XML.
 * - store (in-process, dist/firmware/store): openStore + update of a ≈ 1 KB record, each durable.
 */
import { constants, createPrivateKey, createPublicKey, generatePrime, privateEncrypt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import forge from 'node-forge';
import { EventBus } from '../../firmware/core/bus.js';
import { systemClock } from '../../firmware/core/clock.js';
import { silentLogger } from '../../firmware/core/logger.js';
import {
  createContactManager,
  exportContact,
  parseContactXml,
  type ContactCard,
  type ContactEvents,
  type ContactManager,
} from '../../firmware/contacts/index.js';
import { peerIdFromPublicKey, shortId } from '../../firmware/identity/index.js';
import { openStore } from '../../firmware/store/index.js';
import {
  agentBuilt,
  agentCliPath,
  createLab,
  labAvailable,
  LAB_SKIP,
  repoRoot,
  type Lab,
  type Teardown,
} from '../lab/harness.js';
import { percentile } from '../lab/proc.js';

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function summarize(xs: readonly number[], digits = 2): Summary {
  const f = 10 ** digits;
  const r = (v: number): number => Math.round(v * f) / f;
  return {
    n: xs.length,
    p50: r(percentile(xs, 50)),
    p99: r(percentile(xs, 99)),
    min: r(Math.min(...xs)),
    max: r(Math.max(...xs)),
    mean: r(xs.reduce((a, b) => a + b, 0) / (xs.length || 1)),
  };
}

export interface TrustBenchOptions {
  parts: Set<string>; // tls, contacts, store
  handshakes: number;
  requests: number;
  contacts: number;
  writes: number;
  out: string;
  log: (s: string) => void;
}

interface TlsFigures {
  handshake?: Summary;
  coldRequest?: Summary;
  warmRequest?: Summary;
  path?: string;
  statuses?: Record<string, number>;
  errors?: Record<string, number>;
  contacts?: string; // whether the two hubs were contacts
  skipped?: string;
}

interface ContactFigures {
  count: number;
  keygenS: number; // making the fixture roots (not peerhub's cost)
  add: Summary;
  addTotalS: number;
  open: Summary;
  lookupId: Summary;
  lookupShortId: Summary;
  lookupNickname: Summary;
  list: Summary;
  export: Summary;
  parseXml: Summary;
  fileKB: number;
}

interface StoreFigures {
  writes: number;
  recordBytes: number;
  update: Summary;
  fs: string;
}

// ---- fixture roots: many distinct RSA-2048 keys, fast ----

const E = 65537n;
/** DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

function b64u(n: bigint): string {
  let h = n.toString(16);
  if (h.length % 2) h = `0${h}`;
  return Buffer.from(h, 'hex').toString('base64url');
}

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error('not invertible');
  return ((s0 % m) + m) % m;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * `count` identity roots as the agent makes them (self-signed, CA:true, keyCertSign, SHA-256), each
 * with its own RSA-2048 key. Real keygen costs ≈ 400 ms here (×1000 = minutes), so keys are built from
 * a pool of 1024-bit primes taken in pairs — distinct moduli, valid keys; fine for a benchmark, never
 * for real identities — and the certificates are signed through Node's crypto instead of forge's JS RSA.
 */
export async function fixtureRoots(count: number): Promise<{ peerId: string; rootCertPem: string }[]> {
  const gp = (bits: number): Promise<bigint> =>
    new Promise((resolve, reject) =>
      generatePrime(bits, { bigint: true }, (err, p) => (err ? reject(err) : resolve(p))),
    );
  const need = Math.ceil((1 + Math.sqrt(1 + 8 * count * 1.1)) / 2) + 2; // C(k,2) ≥ count, some spare
  const primes: bigint[] = [];
  while (primes.length < need) {
    const batch = await Promise.all([gp(1024), gp(1024)]);
    for (const p of batch) if ((p - 1n) % E !== 0n && !primes.includes(p)) primes.push(p);
  }
  const out: { peerId: string; rootCertPem: string }[] = [];
  for (let i = 0; i < primes.length && out.length < count; i++) {
    for (let j = i + 1; j < primes.length && out.length < count; j++) {
      let [p, q] = [primes[i] as bigint, primes[j] as bigint];
      if (p < q) [p, q] = [q, p];
      const n = p * q;
      if (n.toString(2).length !== 2048) continue;
      const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
      const d = modInverse(E, lambda);
      const key = createPrivateKey({
        format: 'jwk',
        key: {
          kty: 'RSA',
          n: b64u(n),
          e: b64u(E),
          d: b64u(d),
          p: b64u(p),
          q: b64u(q),
          dp: b64u(d % (p - 1n)),
          dq: b64u(d % (q - 1n)),
          qi: b64u(modInverse(q, p)),
        },
      });
      const pubPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
      const peerId = peerIdFromPublicKey(pubPem);
      const cert = forge.pki.createCertificate();
      cert.version = 2;
      cert.publicKey = forge.pki.publicKeyFromPem(pubPem);
      cert.serialNumber = `01${out.length.toString(16).padStart(8, '0')}`;
      cert.validity.notBefore = new Date(Date.UTC(2020, 0, 1));
      cert.validity.notAfter = new Date(Date.UTC(2100, 0, 1));
      const name = [
        { name: 'commonName', value: peerId },
        { name: 'organizationName', value: 'peerhub' },
      ];
      cert.setSubject(name);
      cert.setIssuer(name);
      cert.setExtensions([
        { name: 'basicConstraints', cA: true, pathLenConstraint: 4, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
        { name: 'subjectKeyIdentifier' },
      ]);
      const signer = {
        sign: (md: forge.md.MessageDigest): string =>
          privateEncrypt(
            { key, padding: constants.RSA_PKCS1_PADDING },
            Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(md.digest().getBytes(), 'binary')]),
          ).toString('binary'),
      };
      cert.sign(signer as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
      out.push({ peerId, rootCertPem: forge.pki.certificateToPem(cert) });
    }
  }
  if (out.length < count) throw new Error(`only ${out.length} fixture roots`);
  return out;
}

// ---- parts ----

async function benchTls(lab: Lab, o: TrustBenchOptions): Promise<TlsFigures> {
  const [alice, bob] = await Promise.all([
    lab.startHub(0, { nickname: 'Alice', logLevel: 'warn' }),
    lab.startHub(1, { nickname: 'Bob', logLevel: 'warn' }),
  ]);
  const [sa, sb] = await Promise.all([alice.status(), bob.status()]);
  // GET /v1/presence may be for contacts only: make them contacts when this build can.
  let contacts = 'no';
  try {
    await alice.waitPeer((p) => p.id === sb.id, { timeout: 20_000 });
    await bob.waitPeer((p) => p.id === sa.id, { timeout: 20_000 });
    const a = await alice.contactsCli(['add-nearby', sb.id, '--json']);
    const b = await bob.contactsCli(['add-nearby', sa.id, '--json']);
    contacts = a.code === 0 && b.code === 0 ? 'yes' : `no (${(a.stderr || b.stderr).trim().slice(0, 120)})`;
  } catch (e) {
    contacts = `no (${(e as Error).message.slice(0, 120)})`;
  }
  o.log(`tls: hubs up; contacts: ${contacts}`);
  const A = alice.identity();
  const B = bob.identity();
  const path = '/v1/presence';
  const r = await lab.peerClient<{
    handshakeMs: number[];
    firstRequestMs: number[];
    requestMs: number[];
    statuses: Record<string, number>;
    errors: Record<string, number>;
  }>(1, 'bench', lab.address(0), {
    creds: { cert: B.tlsCert, key: B.tlsKey, chain: B.rootCert },
    ca: A.rootCert,
    args: [
      '--handshakes',
      String(o.handshakes),
      '--requests',
      String(o.requests),
      '--interval-ms',
      '55',
      '--path',
      path,
    ],
    timeoutMs: 30_000 + o.handshakes * 200 + o.requests * 300,
  });
  o.log(
    `tls: ${r.handshakeMs.length} handshakes, ${r.requestMs.length} warm requests, statuses ${JSON.stringify(r.statuses)}`,
  );
  const nonEmpty = (xs: number[]): Summary | undefined => (xs.length ? summarize(xs) : undefined);
  return {
    handshake: nonEmpty(r.handshakeMs),
    coldRequest: nonEmpty(r.firstRequestMs),
    warmRequest: nonEmpty(r.requestMs),
    path,
    statuses: r.statuses,
    errors: r.errors,
    contacts,
  };
}

const timed = async (fn: () => unknown): Promise<number> => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

async function benchContacts(o: TrustBenchOptions, dir: string): Promise<ContactFigures> {
  const n = o.contacts;
  const t0 = performance.now();
  const roots = await fixtureRoots(n + 1);
  const keygenS = (performance.now() - t0) / 1000;
  o.log(`contacts: ${n + 1} fixture roots in ${keygenS.toFixed(1)} s`);
  const [me, ...others] = roots as [(typeof roots)[number], ...typeof roots];
  const file = join(dir, 'contacts.json');
  const manager = (): ContactManager =>
    createContactManager(
      { logger: silentLogger(), bus: new EventBus<ContactEvents>(), clock: systemClock },
      { file, me: { peerId: me.peerId, nickname: 'Me', rootCertPem: me.rootCertPem, endpoints: [] } },
    );
  const cards: ContactCard[] = others.map((r, i) => ({
    peerId: r.peerId,
    nickname: `Contact ${String(i).padStart(4, '0')}`,
    displayName: `Contact number ${i}`,
    email: `c${i}@example.org`,
    rootCertPem: r.rootCertPem,
    endpoints: [`10.0.${i >> 8}.${i & 255}:7443`],
  }));
  let m = manager();
  await m.open();
  const add: number[] = [];
  const tAdd = performance.now();
  for (const c of cards) add.push(await timed(() => m.add(c)));
  const addTotalS = (performance.now() - tAdd) / 1000;
  o.log(`contacts: ${n} added in ${addTotalS.toFixed(1)} s`);
  await m.close();
  const open: number[] = [];
  for (let k = 0; k < 5; k++) {
    const mm = manager();
    open.push(await timed(() => mm.open()));
    if (k < 4) await mm.close();
    else m = mm;
  }
  const pick = (k: number): ContactCard => cards[(k * 7919) % cards.length] as ContactCard;
  const lookup = (key: (c: ContactCard) => string): number[] => {
    const xs: number[] = [];
    for (let k = 0; k < 1000; k++) {
      const c = pick(k);
      const t1 = performance.now();
      const got = m.get(key(c));
      xs.push(performance.now() - t1);
      if (got.peerId !== c.peerId) throw new Error(`lookup ${key(c)} found ${got.peerId}`);
    }
    return xs;
  };
  const lookupId = lookup((c) => c.peerId);
  const lookupShortId = lookup((c) => shortId(c.peerId));
  const lookupNickname = lookup((c) => c.nickname);
  const list: number[] = [];
  for (let k = 0; k < 20; k++) {
    const t1 = performance.now();
    if (m.list().length !== n) throw new Error('list length');
    list.push(performance.now() - t1);
  }
  const exp: number[] = [];
  const xmls: string[] = [];
  for (let k = 0; k < 1000; k++) {
    const t1 = performance.now();
    const xml = exportContact(m.get(pick(k).peerId));
    exp.push(performance.now() - t1);
    if (k < 200) xmls.push(xml);
  }
  const parse: number[] = [];
  for (const x of xmls) {
    const t1 = performance.now();
    parseContactXml(x);
    parse.push(performance.now() - t1);
  }
  await m.close();
  return {
    count: n,
    keygenS: Math.round(keygenS * 10) / 10,
    add: summarize(add),
    addTotalS: Math.round(addTotalS * 10) / 10,
    open: summarize(open),
    lookupId: summarize(lookupId, 4),
    lookupShortId: summarize(lookupShortId, 4),
    lookupNickname: summarize(lookupNickname, 4),
    list: summarize(list),
    export: summarize(exp, 4),
    parseXml: summarize(parse),
    fileKB: Math.round(statSync(file).size / 1024),
  };
}

function fsType(dir: string): string {
  try {
    return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function benchStore(o: TrustBenchOptions, dir: string): Promise<StoreFigures> {
  interface Rec {
    version: number;
    counter: number;
    blob: string;
  }
  const blob = 'x'.repeat(1000);
  const store = await openStore<Rec>(
    {
      file: join(dir, 'bench.json'),
      version: 1,
      defaults: { version: 1, counter: 0, blob },
      validate: (x) => {
        const r = x as Rec;
        if (typeof r?.counter !== 'number' || typeof r.blob !== 'string') throw new Error('bad record');
        return r;
      },
    },
    { logger: silentLogger() },
  );
  const xs: number[] = [];
  for (let k = 0; k < o.writes; k++) {
    xs.push(
      await timed(() =>
        store.update((d) => {
          d.counter = k + 1;
        }),
      ),
    );
  }
  await store.close();
  o.log(`store: ${o.writes} updates, p50 ${percentile(xs, 50).toFixed(2)} ms`);
  return {
    writes: o.writes,
    recordBytes: JSON.stringify({ version: 1, counter: o.writes, blob }).length,
    update: summarize(xs),
    fs: fsType(dir),
  };
}

// ---- report ----

function row(label: string, s: Summary | undefined, unit = 'ms'): string {
  if (!s) return `${label.padEnd(52)}—`;
  const f = (v: number): string => (v < 0.1 ? v.toFixed(4) : v < 10 ? v.toFixed(2) : v.toFixed(1));
  return `${label.padEnd(52)}${`${f(s.p50)} / ${f(s.p99)} ${unit}`.padEnd(26)}n=${s.n}`;
}

function table(
  tls: TlsFigures | undefined,
  c: ContactFigures | undefined,
  s: StoreFigures | undefined,
): string {
  const lines = [`${'trust figures'.padEnd(52)}${'p50 / p99'.padEnd(26)}samples`];
  if (tls?.skipped) lines.push(`peer API: skipped (${tls.skipped})`);
  else if (tls) {
    lines.push(
      row('mutual TLS 1.3 handshake (connect → secureConnect)', tls.handshake),
      row('cold request (new session + first GET)', tls.coldRequest),
      row(`warm round trip (GET ${tls.path ?? ''}, one session)`, tls.warmRequest),
    );
  }
  if (c) {
    lines.push(
      row(`contacts: add (durable write, up to ${c.count})`, c.add),
      row(`contacts: open (load + validate ${c.count})`, c.open),
      row('contacts: lookup by full id', c.lookupId),
      row('contacts: lookup by short id', c.lookupShortId),
      row('contacts: lookup by nickname', c.lookupNickname),
      row(`contacts: list (${c.count}, copied)`, c.list),
      row('contacts: export one as XML', c.export),
      row('contacts: parse one XML file (+ certificate check)', c.parseXml),
      `contacts: ${c.count} added in ${c.addTotalS} s; contacts.json ${c.fileKB} KB; fixture keys ${c.keygenS} s`,
    );
  }
  if (s) lines.push(row(`store: update (≈ ${s.recordBytes} B record, fsync, ${s.fs})`, s.update));
  return lines.join('\n');
}

export async function runTrustBench(o: TrustBenchOptions): Promise<number> {
  const started = new Date();
  const teardowns: (() => unknown)[] = [];
  let ok = true;
  const tap: Teardown = { teardown: (fn) => teardowns.push(fn), passing: () => ok };
  const dir = mkdtempSync(join(tmpdir(), 'peerhub-bench-trust-'));
  try {
    let tls: TlsFigures | undefined;
    if (o.parts.has('tls')) {
      if (!(await labAvailable())) tls = { skipped: LAB_SKIP };
      else if (!agentBuilt()) tls = { skipped: `agent not built (${agentCliPath()}): run npm run build` };
      else {
        const lab = await createLab(tap, { hubs: 2 });
        o.log(`lab ${lab.id}: 10.77.${lab.subnet}.0/16`);
        tls = await benchTls(lab, o);
        await lab.close();
      }
    }
    const contacts = o.parts.has('contacts') ? await benchContacts(o, dir) : undefined;
    const store = o.parts.has('store') ? await benchStore(o, dir) : undefined;
    console.log(table(tls, contacts, store));
    const report = {
      date: started.toISOString(),
      durationS: Math.round((Date.now() - started.getTime()) / 1000),
      machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, kernel: release() },
      config: {
        parts: [...o.parts],
        handshakes: o.handshakes,
        requests: o.requests,
        contacts: o.contacts,
        writes: o.writes,
      },
      units: 'milliseconds unless named; p50/p99 nearest-rank',
      tls,
      contacts,
      store,
      notes: [
        'tls: a Node client (test/lab/peer_client.mjs) in hub Bob’s namespace with Bob’s TLS leaf + root, Alice’s root as CA, against Alice’s agent on the lab bridge. handshake = TCP connect + TLS 1.3 handshake until secureConnect on the client (the server validates the client chain with peerhub’s own chain check right after, which the cold request includes); cold request = new HTTP/2 session + first GET; warm = sequential GETs on one session, paced at 55 ms (the per-peer rate limit is 20/s, burst 40).',
        'contacts: dist/firmware/contacts in this process, contacts.json in a temp dir (every add is a durable write of the whole file: temp file, fsync, rename, fsync dir). Fixture roots: RSA-2048 from a pool of primes taken in pairs, certificates signed through Node crypto (the agent’s own keygen costs ≈ 400 ms per key here); keygenS is that fixture cost, not peerhub’s.',
        'store: dist/firmware/store openStore + update, each update durable (fsync file and directory), on the temp dir’s file system.',
      ],
    };
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
    o.log(`wrote ${o.out}`);
    return 0;
  } catch (err) {
    ok = false;
    console.error(err instanceof Error ? err.stack : err);
    return 1;
  } finally {
    for (const fn of teardowns.reverse()) await fn();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function trustOptionsFromArgs(argv: string[]): TrustBenchOptions {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: true, // run.ts passes its own options through (strict: false ignores them)
    strict: false,
    options: {
      parts: { type: 'string', default: 'tls,contacts,store' },
      handshakes: { type: 'string', default: '200' },
      requests: { type: 'string', default: '300' },
      contacts: { type: 'string', default: '1000' },
      writes: { type: 'string', default: '300' },
      'trust-out': { type: 'string', default: join(repoRoot(), 'docs/bench/trust.json') },
    },
  });
  const num = (v: unknown, lo: number, hi: number): number => Math.max(lo, Math.min(hi, Number(v) || lo));
  return {
    parts: new Set(String(values.parts).split(',')),
    handshakes: num(values.handshakes, 1, 5000),
    requests: num(values.requests, 1, 5000),
    contacts: num(values.contacts, 1, 5000),
    writes: num(values.writes, 1, 10_000),
    out: String(values['trust-out']),
    log: (s) => console.error(`# ${s}`),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runTrustBench(trustOptionsFromArgs(process.argv.slice(2)));
}
