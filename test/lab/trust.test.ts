/**
 * Trust on a real (namespaced) LAN (issue 3, "Tests (lab, real sockets)"): a third hub announcing the
 * first hub's id with its own key is flagged as a spoof, never shown as that person; the mutual-TLS
 * peer API of a real agent against openssl and a Node client — handshake with a hub's leaf, no client
 * certificate refused, oversized bodies 413, slow clients dropped, 1,000 concurrent connection attempts
 * survived with bounded memory. One lab: Alice (0), Bob (1), Charlie (2, also the impostor "Mallory").
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import {
  createLab,
  labSkipReason,
  rssKB,
  type HubStatus,
  type PeerCredentials,
  type StormResult,
  type WatchEvent,
} from './harness.js';

/** Resident memory the agent may use after the storm (it idles at ≈ 65 MB; docs/bench/latest.json). */
const RSS_BOUND_MB = 256;
const STORM = 1_000;

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 3 });
  const [alice, bob, charlie] = await Promise.all([
    lab.startHub(0, { nickname: 'Alice' }),
    lab.startHub(1, { nickname: 'Bob' }),
    lab.startHub(2, { nickname: 'Charlie' }),
  ]);
  const [sa, , sc] = (await Promise.all([alice, bob, charlie].map((h) => h.status()))) as [
    HubStatus,
    HubStatus,
    HubStatus,
  ];
  const bobEvents = bob.watch();
  const A = alice.identity();
  const B = bob.identity();
  const bobCreds: PeerCredentials = { cert: B.tlsCert, key: B.tlsKey, chain: B.rootCert };
  const aliceAt = lab.address(0);

  await t.test('an impostor announcing Alice’s id with its own key is a spoof', async (t) => {
    await bob.waitPeer((p) => p.id === sa.id && p.wellFormed, { timeout: 20_000 });
    await bob.waitPeer((p) => p.id === sc.id && p.wellFormed, { timeout: 20_000 });
    const verified = await bob
      .waitPeer((p) => p.id === sa.id && p.verified === true, { timeout: 20_000 })
      .catch((e: Error) => (t.fail(e.message), null));
    if (verified) t.equal(verified.spoof, false, 'Alice, verified, before the impostor shows up');

    const since = performance.now();
    // Charlie's namespace also announces "Mallory" claiming Alice's id, pointing at Charlie's peer
    // API — which answers there, with Charlie's key.
    const mallory = await lab.zeroconfPublish(2, {
      name: 'Mallory',
      port: 7443,
      host: `${lab.id.replace(/^phlab-\d+-/, 'phl')}-mallory`,
      txt: ['v=1', `id=${sa.id}`, 'st=Online', 'seq=1'],
    });
    const seen = await bob.waitPeer((p) => p.instance === 'Mallory', { timeout: 20_000 });
    t.comment(`Bob sees Mallory: ${JSON.stringify(seen)}`);
    const row = await bob.waitPeer((p) => p.instance === 'Mallory' && p.spoof === true, { timeout: 30_000 });
    t.equal(row.verified, false, 'Mallory: spoof, not verified');
    t.ok(
      row.endpoints.includes(`${lab.address(2)}:7443`),
      `at Charlie's address: ${JSON.stringify(row.endpoints)}`,
    );
    const rows = await bob.peers();
    const real = rows.find((p) => p.instance === 'Alice');
    t.equal(real?.id, sa.id, 'Alice still listed under her own name');
    t.equal(real?.verified, true, 'Alice still verified');
    t.equal(real?.spoof, false, 'Alice herself is no spoof');
    t.equal(rows.find((p) => p.id === sc.id)?.spoof, false, 'Charlie, under his own id, is no spoof either');

    const ev = await bobEvents.waitForRecord((e) => e.type === 'peer:spoof', { since, timeout: 15_000 });
    const d = ev.value.data as Record<string, unknown>;
    t.equal(d.claimed, sa.id, 'peer:spoof claimed = Alice’s id');
    t.equal(d.presented, sc.id, 'peer:spoof presented = Charlie’s id (the key that answered)');
    t.match(String(d.endpoint), lab.address(2), `peer:spoof endpoint: ${String(d.endpoint)}`);
    t.equal(d.instance, 'Mallory', 'peer:spoof instance');
    t.notOk(
      bobEvents.records.some(
        (r) => r.t >= since && r.value.type === 'peer:verified' && verifiedInstance(r.value) === 'Mallory',
      ),
      'never peer:verified for the impostor',
    );

    const add = await bob.contactsCli(['add-nearby', 'Mallory', '--json']);
    t.not(add.code, 0, `adding the impostor as a contact is refused: ${add.stderr.trim()}`);
    const contacts = await bob.contacts().catch(() => []);
    t.notOk(
      contacts.some((c) => c.id === sa.id || c.id === sc.id),
      'neither Alice’s nor Charlie’s id became a contact',
    );

    mallory.send('quit'); // goodbye
    await bob.waitNoPeer((p) => p.instance === 'Mallory', { timeout: 15_000 });
    t.equal((await bob.peers()).find((p) => p.id === sa.id)?.verified, true, 'Alice unaffected');
  });

  await t.test('openssl s_client: mutual TLS 1.3 + h2 with a hub’s leaf', async (t) => {
    const verify = await lab.exec(1, 'openssl', ['verify', '-CAfile', A.rootCert, A.tlsCert]);
    t.equal(verify.code, 0, `openssl verify accepts Alice's leaf against her root: ${verify.stdout.trim()}`);
    const base = ['s_client', '-connect', `${aliceAt}:7443`, '-tls1_3', '-alpn', 'h2'];
    const mine = ['-cert', B.tlsCert, '-key', B.tlsKey, '-cert_chain', B.rootCert];
    const ok = await lab.exec(
      1,
      'openssl',
      [...base, ...mine, '-CAfile', A.rootCert, '-verify_return_error'],
      {
        timeoutMs: 15_000,
      },
    );
    t.equal(ok.code, 0, `handshake completes: ${ok.stderr.trim().slice(0, 300)}`);
    t.match(ok.stdout, /New, TLSv1\.3/, 'TLS 1.3');
    t.match(ok.stdout, /ALPN protocol: h2/, 'ALPN h2');
    t.match(ok.stdout, /Verify return code: 0 \(ok\)/, 'Alice’s chain verifies against her root');
    const wrongCa = await lab.exec(
      1,
      'openssl',
      [...base, ...mine, '-CAfile', B.rootCert, '-verify_return_error'],
      {
        timeoutMs: 15_000,
      },
    );
    t.not(wrongCa.code, 0, 'and not against another root');
  });

  await t.test('peer API: client certificate required, body limit, slow clients', async (t) => {
    const good = await lab.peerRequest(1, aliceAt, { creds: bobCreds, ca: A.rootCert });
    t.equal(good.status, 200, `GET /v1/card with Bob's credentials: ${good.error ?? ''}`);
    t.equal((good.body as { peerId?: string } | null)?.peerId, sa.id, 'Alice’s card');
    t.equal(good.serverId, sa.id, 'the server’s chain ends at Alice’s root');
    t.equal(good.alpn, 'h2');
    t.equal(good.protocol, 'TLSv1.3');

    const anon = await lab.peerRequest(1, aliceAt, { ca: A.rootCert });
    t.ok(
      anon.status === null || anon.status === 401,
      `no client certificate: refused (${anon.status ?? anon.error})`,
    );
    t.not(anon.status, 200, 'never served');

    const big = await lab.peerRequest(1, aliceAt, {
      creds: bobCreds,
      ca: A.rootCert,
      method: 'POST',
      path: '/v1/card',
      bodyBytes: 100 * 1024,
    });
    t.equal(big.status, 413, `100 KB body → 413 (${big.status ?? big.error})`);

    // Three authenticated connections that never send a request: the server must drop them.
    const slow = await lab.peerClient<StormResult>(1, 'storm', aliceAt, {
      creds: bobCreds,
      args: ['--n', '3', '--cert-every', '1', '--hold-ms', '60000', '--deadline-ms', '45000'],
      timeoutMs: 60_000,
    });
    t.comment(`slow clients: ${JSON.stringify(slow)}`);
    t.equal(slow.secure, 3, 'three handshakes');
    t.equal(slow.closedByServer, 3, 'all three closed by the server (header time-out)');
  });

  await t.test(`${STORM} concurrent TLS connection attempts: still up, bounded memory`, async (t) => {
    const pid = alice.pid as number;
    const before = rssKB(pid) / 1024;
    const storm = await lab.peerClient<StormResult>(1, 'storm', aliceAt, {
      creds: bobCreds, // every second attempt presents Bob's credentials, the others none
      args: ['--n', String(STORM), '--cert-every', '2', '--hold-ms', '1000', '--deadline-ms', '90000'],
      timeoutMs: 120_000,
    });
    const after = rssKB(pid) / 1024;
    const peak = rssKB(pid, 'VmHWM') / 1024;
    t.comment(`storm: ${JSON.stringify(storm)}`);
    t.comment(
      `agent RSS ${before.toFixed(1)} MB before, ${after.toFixed(1)} MB after, peak ${peak.toFixed(1)} MB`,
    );
    t.equal(storm.pending, 0, 'every attempt settled (handshake, refusal or close) before the deadline');
    t.ok(storm.secure > 0, `some handshakes completed (${storm.secure})`);
    t.ok(alice.running, 'the agent is still running');
    t.equal((await alice.status()).id, sa.id, 'and answers status');
    const again = await lab.peerRequest(1, aliceAt, { creds: bobCreds, ca: A.rootCert });
    t.equal(again.status, 200, `a peer still gets served: ${again.error ?? ''}`);
    t.equal(again.serverId, sa.id, 'and still verifies Alice');
    t.ok(after < RSS_BOUND_MB, `RSS after the storm ${after.toFixed(1)} MB < ${RSS_BOUND_MB} MB`);
    t.ok(peak < RSS_BOUND_MB * 1.5, `peak RSS ${peak.toFixed(1)} MB < ${RSS_BOUND_MB * 1.5} MB`);
    const row = await bob.waitPeer((p) => p.id === sa.id, { timeout: 10_000 });
    t.equal(row.verified, true, 'Bob still lists Alice as verified');
  });
}

function verifiedInstance(e: WatchEvent): string | undefined {
  const d = e.data as { instance?: string; peer?: { instance?: string } };
  return d.peer?.instance ?? d.instance;
}
