/**
 * Contacts between real agents on a namespaced LAN (issue 3, "Tests (lab, real sockets)"): two owners
 * add each other from People Near Me and compare the verification code; presence is then pushed over
 * the peer API (not polled); XML contact files travel (export-me → import, hostile files refused and
 * nothing changed); a kill -9 of a subscribed contact is reported within 5 s; a blocked contact gets
 * nothing. One lab for the whole file: Alice (0), Bob (1), Carol (2).
 */
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLab, labSkipReason, type ContactRow, type HubStatus, type WatchEvent } from './harness.js';

/** The contract: a crashed subscribed contact is reported within 5 s. Slack for this noisy machine. */
const OFFLINE_CONTRACT_MS = 5_000;
const OFFLINE_SLACK_MS = 2_000;
/** Pushed presence must arrive well before any polling would (a correctness deadline, not a benchmark). */
const PUSH_DEADLINE_MS = 3_000;

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 3 });
  const [alice, bob, carol] = await Promise.all([
    lab.startHub(0, { nickname: 'Alice' }),
    lab.startHub(1, { nickname: 'Bob' }),
    lab.startHub(2, { nickname: 'Carol' }),
  ]);
  const [sa, sb] = (await Promise.all([alice.status(), bob.status()])) as [HubStatus, HubStatus];
  const aliceEvents = alice.watch();
  const carolEvents = carol.watch();
  const ofPeer = (type: string, id: string) => (e: WatchEvent) => e.type === type && contactIdOf(e) === id;

  await t.test('two owners add each other from People Near Me and compare the code', async (t) => {
    await alice.waitPeer((p) => p.id === sb.id && p.wellFormed, { timeout: 20_000 });
    await bob.waitPeer((p) => p.id === sa.id && p.wellFormed, { timeout: 20_000 });
    const since = performance.now();

    const byName = await alice.contactsCli(['add-nearby', 'Bob', '--json']);
    t.equal(byName.code, 0, `Alice adds Bob by nickname: ${byName.stderr.trim()}`);
    t.equal(byName.code === 0 ? byName.json<ContactRow>().id : null, sb.id, 'the added contact is Bob');
    const byId = await bob.contactsCli(['add-nearby', sa.id, '--json']);
    t.equal(byId.code, 0, `Bob adds Alice by peer id: ${byId.stderr.trim()}`);
    t.equal(byId.code === 0 ? byId.json<ContactRow>().id : null, sa.id, 'the added contact is Alice');

    const again = await alice.contactsCli(['add-nearby', 'Bob', '--json']);
    t.not(again.code, 0, 'adding the same peer twice is refused');
    t.equal(again.stderr.trim().split('\n').length, 1, `with one line: ${again.stderr.trim()}`);

    const rows = await alice.contacts();
    const row = rows.find((c) => c.id === sb.id);
    t.ok(row, 'Bob is in Alice’s contact list');
    t.equal(rows.length, 1, 'and only Bob');
    t.equal(row?.nickname, 'Bob');
    t.equal(row?.subscription, 'allowed', 'a new contact is allowed');
    t.equal(row?.verified, false, 'not verified before the owner confirms the code');
    t.ok(row?.endpoints.includes(`${lab.address(1)}:7443`), `Bob's endpoint stored: ${row?.endpoints}`);

    const added = await aliceEvents.waitForRecord(ofPeer('contact:added', sb.id), { since, timeout: 5_000 });
    t.ok(added, 'contact:added on Alice’s event stream');

    const va = await alice.cliJson<{ id: string; code: string }>(['contacts', 'verify', 'Bob', '--json']);
    const vb = await bob.cliJson<{ id: string; code: string }>(['contacts', 'verify', sa.id, '--json']);
    t.equal(va.id, sb.id, 'Alice verifies Bob');
    t.equal(vb.id, sa.id, 'Bob verifies Alice');
    t.match(va.code, /\S{4,}/, `a short code: ${va.code}`);
    t.equal(va.code, vb.code, 'both hubs show the same code');
    const vc = await carol.contactsCli(['verify', 'Alice', '--json']);
    t.not(vc.code, 0, 'no code for a peer that is not a contact');

    await alice.cliJson(['contacts', 'verify', 'Bob', '--confirm', '--json']);
    await bob.cliJson(['contacts', 'verify', sa.id, '--confirm', '--json']);
    t.equal((await alice.contact('Bob')).verified, true, 'Alice confirmed the code: Bob verified');
    t.equal((await bob.contact(sa.id)).verified, true, 'Bob confirmed the code: Alice verified');
  });

  await t.test('People Near Me marks a contact, verified by the TLS handshake', async (t) => {
    const peer = await alice.waitPeer((p) => p.id === sb.id && p.contact === true && p.verified === true, {
      timeout: 20_000,
    });
    t.equal(peer.spoof, false, 'Bob in People Near Me: contact, verified, no spoof');

    const carolRow = await alice.waitPeer((p) => p.instance === 'Carol', { timeout: 20_000 });
    t.equal(carolRow.contact, false, 'Carol is no contact of Alice');
    t.equal(carolRow.spoof, false, 'nor a spoof');
  });

  await t.test('presence of a contact is pushed, with its descriptive text', async (t) => {
    const online = await alice.waitContact('Bob', (c) => c.online, { timeout: 20_000 });
    t.equal(online.online, true, 'Bob online on Alice (subscription up)');
    const since = performance.now();
    await bob.setPresence('Busy', 'in a meeting');
    const acked = performance.now();
    const ev = await aliceEvents.waitForRecord(
      (e) => ofPeer('contact:presence', sb.id)(e) && e.data.status === 'Busy',
      { since, timeout: 15_000 },
    );
    const ms = ev.t - since;
    t.comment(
      `contact:presence after ${Math.round(ms)} ms from the CLI call (${Math.round(ev.t - acked)} ms after it returned)`,
    );
    t.ok(ms < PUSH_DEADLINE_MS, `pushed within ${PUSH_DEADLINE_MS} ms (${Math.round(ms)} ms)`);
    // The descriptive text is not in the TXT record: it can only have come over the peer API.
    t.equal(ev.value.data.text, 'in a meeting', 'the event carries the descriptive text');
    t.ok(Number(ev.value.data.seq) > sb.presence.seq, 'and the new seq');
    const shown = await alice.contact('Bob');
    t.equal(shown.online, true);
    t.equal(shown.presence?.status, 'Busy', 'contacts show: presence.status Busy');
    t.equal(shown.presence?.text, 'in a meeting');
    const bystander = carolEvents.records.find(
      (r) => r.t >= since && ofPeer('contact:presence', sb.id)(r.value),
    );
    t.notOk(bystander, 'Carol (not a contact) gets no contact:presence from Bob');
  });

  const aliceXml = join(lab.node(2).dir, 'alice.contact');

  await t.test('XML: export-me → import on another hub, verified only after confirm', async (t) => {
    const exp = await alice.contactsCli(['export-me']);
    t.equal(exp.code, 0, `export-me: ${exp.stderr.trim()}`);
    t.match(exp.stdout, /^<\?xml[^>]*\?>\s*<peerhubContact /, 'an XML contact file');
    t.match(exp.stdout, sa.id, 'with Alice’s peer id');
    t.match(exp.stdout, /BEGIN CERTIFICATE/, 'and her root certificate');
    t.notMatch(exp.stdout, /PRIVATE KEY/, 'never a private key');
    await writeFile(aliceXml, exp.stdout);

    const imp = await carol.contactsCli(['import', aliceXml, '--json']);
    t.equal(imp.code, 0, `Carol imports Alice: ${imp.stderr.trim()}`);
    const row = (await carol.contacts()).find((c) => c.id === sa.id);
    t.equal(row?.nickname, 'Alice', 'Carol lists Alice');
    t.equal(row?.verified, false, 'not verified before confirm');
    const code = await carol.cliJson<{ id: string; code: string }>(['contacts', 'verify', 'Alice', '--json']);
    t.equal(code.id, sa.id);
    await carol.cliJson(['contacts', 'verify', 'Alice', '--confirm', '--json']);
    t.equal((await carol.contact('Alice')).verified, true, 'verified after confirm');

    const bobCard = await alice.contactsCli(['export', 'Bob']);
    t.equal(bobCard.code, 0, `export of a contact: ${bobCard.stderr.trim()}`);
    t.match(bobCard.stdout, sb.id, 'Bob’s card exported by Alice carries Bob’s id');
  });

  await t.test('XML: hostile or wrong files are refused and change nothing', async (t) => {
    const before = (await carol.contacts()).map((c) => c.id).sort();
    const dir = lab.node(2).dir;
    const files: [string, string, RegExp][] = [
      [
        'laughs.contact',
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
          '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n' +
          '<peerhubContact version="1"><peerId>&lol3;</peerId></peerhubContact>\n',
        /DOCTYPE|DTD|entit/i,
      ],
      [
        'external.contact',
        '<?xml version="1.0"?>\n<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' +
          '<peerhubContact version="1"><nickname>&x;</nickname></peerhubContact>\n',
        /DOCTYPE|DTD|entit/i,
      ],
      [
        'huge.contact',
        `<?xml version="1.0"?>\n<peerhubContact version="1"><!--${'x'.repeat(200_000)}--></peerhubContact>\n`,
        /larger than|contact file/i,
      ],
      ['notxml.contact', 'this is not XML at all\n', /xml|element|parse|malformed/i],
    ];
    // Alice's real file claiming Bob's peer id: the certificate does not hash to it.
    const real = (await alice.contactsCli(['export-me'])).stdout;
    files.push(['forged.contact', real.replace(sa.id, sb.id), /certificate|peer id|match|hash/i]);
    for (const [name, text, why] of files) {
      const path = join(dir, name);
      await writeFile(path, text);
      const r = await carol.contactsCli(['import', path]);
      t.equal(r.code, 1, `${name}: exit 1`);
      const msg = r.stderr.trim();
      t.equal(msg.split('\n').length, 1, `${name}: one line on stderr: ${msg}`);
      t.match(msg, why, `${name}: a clear message`);
      t.notMatch(msg, /^\s+at |Error: .*\n\s+at /m, `${name}: no stack trace`);
    }
    const dup = await carol.contactsCli(['import', aliceXml]);
    t.not(dup.code, 0, `importing Alice twice is refused: ${dup.stderr.trim()}`);
    t.same((await carol.contacts()).map((c) => c.id).sort(), before, 'the contact list is unchanged');
  });

  await t.test(
    `kill -9 of a subscribed contact → contact:offline within ${OFFLINE_CONTRACT_MS / 1000} s`,
    async (t) => {
      await alice.waitContact('Bob', (c) => c.online, { timeout: 20_000 });
      const since = performance.now();
      await bob.kill();
      const ev = await aliceEvents.waitForRecord(ofPeer('contact:offline', sb.id), {
        since,
        timeout: 30_000,
      });
      const ms = ev.t - since;
      t.comment(
        `contact:offline ${Math.round(ms)} ms after kill -9 (reason ${String(ev.value.data.reason)})`,
      );
      t.ok(
        ms <= OFFLINE_CONTRACT_MS + OFFLINE_SLACK_MS,
        `reported after ${Math.round(ms)} ms (contract ${OFFLINE_CONTRACT_MS} ms + ${OFFLINE_SLACK_MS} ms slack)`,
      );
      const shown = await alice.waitContact('Bob', (c) => !c.online, { timeout: 5_000 });
      t.equal(shown.online, false, 'contacts show: online false');

      const back = performance.now();
      await lab.startHub(1, { nickname: 'Bob' });
      const on = await aliceEvents.waitForRecord(ofPeer('contact:online', sb.id), {
        since: back,
        timeout: 45_000,
      });
      t.comment(`contact:online ${Math.round(on.t - back)} ms after Bob's restart`);
      t.equal((await lab.hub(1).status()).id, sb.id, 'Bob restarted with the same identity');
    },
  );

  // kill -9 lets the kernel close Bob's sockets (the FIN reaches Alice at once). A host that dies or
  // loses its cable sends nothing: only the peer API's keep-alives can tell.
  await t.test(
    `a contact whose cable is pulled (no FIN) → contact:offline within ${OFFLINE_CONTRACT_MS / 1000} s`,
    async (t) => {
      await alice.waitContact('Bob', (c) => c.online, { timeout: 30_000 });
      const since = performance.now();
      await lab.linkDown(1);
      try {
        const ev = await aliceEvents.waitForRecord(ofPeer('contact:offline', sb.id), {
          since,
          timeout: 30_000,
        });
        const ms = ev.t - since;
        t.comment(
          `contact:offline ${Math.round(ms)} ms after the link went down (reason ${String(ev.value.data.reason)})`,
        );
        t.ok(
          ms <= OFFLINE_CONTRACT_MS + OFFLINE_SLACK_MS,
          `reported after ${Math.round(ms)} ms (contract ${OFFLINE_CONTRACT_MS} ms + ${OFFLINE_SLACK_MS} ms slack)`,
        );
      } finally {
        await lab.linkUp(1);
      }
      const back = performance.now();
      const on = await aliceEvents.waitForRecord(ofPeer('contact:online', sb.id), {
        since: back,
        timeout: 60_000,
      });
      t.comment(`contact:online ${Math.round(on.t - back)} ms after the link came back`);
    },
  );

  await t.test('a blocked contact gets nothing', async (t) => {
    const b = lab.hub(1);
    await alice.waitContact('Bob', (c) => c.online, { timeout: 30_000 });
    const r = await b.contactsCli(['block', sa.id]);
    t.equal(r.code, 0, `Bob blocks Alice: ${r.stderr.trim()}`);
    t.equal((await b.contact(sa.id)).subscription, 'blocked');
    const since = performance.now();
    await b.setPresence('Away', 'not for Alice');
    // The change is public on the subnet (TXT): Alice sees it there, proof that it happened…
    await alice.waitPeer((p) => p.id === sb.id && p.status === 'Away', { timeout: 15_000 });
    await new Promise((r) => setTimeout(r, 3_000)); // …and gives a push every chance to arrive.
    const leaked = aliceEvents.records.find(
      (x) =>
        x.t >= since && ofPeer('contact:presence', sb.id)(x.value) && x.value.data.text === 'not for Alice',
    );
    t.notOk(leaked, 'no contact:presence with the descriptive text reaches a blocked contact');
    t.not((await alice.contact('Bob')).presence?.text, 'not for Alice', 'nor does contacts show have it');
    const allow = await b.contactsCli(['allow', sa.id]);
    t.equal(allow.code, 0, `allowed again: ${allow.stderr.trim()}`);
    t.equal((await b.contact(sa.id)).subscription, 'allowed');
  });
}

/** The contact a watch event is about: contact:* carry { peerId } or { contact: { peerId | id } }. */
function contactIdOf(e: WatchEvent): string | undefined {
  const d = e.data as { peerId?: string; id?: string; contact?: { peerId?: string; id?: string } };
  return d.peerId ?? d.contact?.peerId ?? d.contact?.id ?? d.id;
}
