/**
 * The seed's collaboration scenario on a real (namespaced) LAN (issue 4, "Tests (lab, real sockets)"),
 * driven through the CLI like four owners would: B discovers hub H; B asks H to host and H's owner
 * accepts; H invites B, C and D to that session naming an application; B and C add H to their
 * contacts; B accepts, C declines, D never answers; B registers with H and holds a membership
 * certificate issued by H's root for B's key; H adds B to its contacts, tallies the answers and cancels
 * the unanswered invitation; H and B exchange messages in one order, and the application registered on
 * B was launched with the launch info. Then: H ends the session (B sees it ended), and an answer to a
 * cancelled invitation is refused. One lab for the whole file: H (0), B (1), C (2), D (3).
 */
import t from 'tap';
import { randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLab, labSkipReason, waitFor, type ContactRow, type HubStatus } from './harness.js';
import type {
  AcceptRow,
  HostRequestResult,
  InvitationRow,
  InviteResult,
  SessionMessageRow,
  SessionRow,
} from './hub.js';

/** What the launched application finds on its stdin (DESIGN "The seed": launch info). */
interface LaunchInfo {
  inviter: { peerId: string; nickname: string };
  message: string;
  data: string;
  sessionId: string;
  invitationId: string;
}

const APP = randomUUID(); // the application GUID the invitation names (registered on B only)
const INVITE_MESSAGE = 'design review in room 2';
const TEXTS = ['hello from H', 'hi from B', 'bye from H'];

/** A value an earlier step should have produced; a clear failure instead of a cascade of undefined. */
function need<T>(v: T | null | undefined, what: string): T {
  if (v === null || v === undefined) throw new Error(`${what} unknown: an earlier step failed`);
  return v;
}

const pem = (s: string): string => s.replace(/\r\n/g, '\n').trim();
const oneLine = (s: string): string[] => s.trim().split('\n');
const stackTrace = /^\s+at |Error: .*\n\s+at /m;

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 4 });
  const [H, B, C, D] = await Promise.all([
    lab.startHub(0, { nickname: 'Helen' }),
    lab.startHub(1, { nickname: 'Bob' }),
    lab.startHub(2, { nickname: 'Carol' }),
    lab.startHub(3, { nickname: 'Dave' }),
  ]);
  const [sh, sb, sc, sd] = (await Promise.all([H, B, C, D].map((h) => h.status()))) as [
    HubStatus,
    HubStatus,
    HubStatus,
    HubStatus,
  ];
  const appDir = lab.node(1).dir;
  const appScript = join(appDir, 'collab-app.sh');
  const launchedFile = join(appDir, 'launched.json');
  const who: Record<string, string> = { [sh.id]: 'H', [sb.id]: 'B', [sc.id]: 'C', [sd.id]: 'D' };
  const names = (ids: readonly string[] | undefined): string[] => (ids ?? []).map((i) => who[i] ?? i).sort();

  let sid: string | undefined; // the session H hosts (step 2)
  const inv: { B?: string; C?: string; D?: string } = {}; // invitation ids (step 3)

  await t.test('setup: B registers the application the invitation will name', async (t) => {
    // Writes its stdin (the launch info) where the test can read it; atomic, so never half a file.
    await writeFile(
      appScript,
      `#!/bin/sh\ncat > '${launchedFile}.tmp' && mv '${launchedFile}.tmp' '${launchedFile}'\n`,
      { mode: 0o755 },
    );
    const r = await B.cli(['apps', 'register', APP, appScript, '--description', 'collab lab app', '--json']);
    t.equal(r.code, 0, `apps register on B: ${r.stderr.trim()}`);
    const listed = await B.cliJson<Array<{ id: string; command: string }>>(['apps', 'list', '--json']);
    t.equal(listed.find((a) => a.id === APP)?.command, appScript, 'B lists the application');
  });

  await t.test('1. B discovers hub H on the subnet', async (t) => {
    const row = await B.waitPeer((p) => p.id === sh.id && p.verified === true, { timeout: 30_000 });
    t.equal(row.nickname, 'Helen', 'H in B’s People Near Me, by its nickname');
    t.equal(row.verified, true, 'verified by the TLS handshake');
    t.not(row.spoof, true, 'no spoof');
    t.ok(row.endpoints.includes(`${lab.address(0)}:7443`), `H's endpoint: ${JSON.stringify(row.endpoints)}`);
  });

  await t.test('2. B sends a host request; H’s owner accepts', async (t) => {
    // B's command blocks until H answers: H's policy (auto-contacts) leaves a non-contact to the owner.
    const request = B.cli(
      ['host', 'request', sh.id, '--message', 'host a session for us?', '--timeout', '120', '--json'],
      150_000,
    );
    const pending = await H.waitHostRequest((r) => r.peer === sb.id && r.state === 'pending', {
      direction: 'in',
    }).catch(async (e: Error) => {
      const r = await Promise.race([request, new Promise((res) => setTimeout(res, 1_000, null))]);
      throw new Error(`${e.message}; B's host request: ${JSON.stringify(r)}`);
    });
    t.equal(pending.direction, 'in', 'H: an incoming host request');
    t.equal(pending.message, 'host a session for us?', 'with B’s message');
    const out = await B.hostRequests({ direction: 'out' });
    t.equal(out.find((r) => r.id === pending.id)?.state, 'pending', 'B: the same request, out, pending');

    const accept = await H.cli(['host', 'accept', pending.id]);
    t.equal(accept.code, 0, `host accept on H: ${accept.stderr.trim()}`);

    const r = await request;
    t.equal(r.code, 0, `B's host request exits 0: ${r.stderr.trim()}`);
    const res = r.json<HostRequestResult>();
    t.equal(res.state, 'accepted', 'state accepted');
    t.equal(res.peer, sh.id, 'answered by H');
    t.equal(res.id, pending.id, 'the request H saw');
    t.match(res.session, /\S/, `a session id: ${res.session}`);
    sid = res.session;

    const hosted = (await H.sessions()).find((s) => s.id === sid);
    t.equal(hosted?.role, 'host', 'H hosts the session');
    t.equal(hosted?.host, sh.id, 'host = H');
    t.equal(hosted?.state, 'open', 'open');
    const mine = (await B.hostRequests({ direction: 'out' })).find((x) => x.id === pending.id);
    t.equal(mine?.state, 'accepted', 'B: host list --out shows it accepted');
    t.equal(mine?.session, sid, 'with the session');
    const theirs = (await H.hostRequests({ direction: 'in' })).find((x) => x.id === pending.id);
    t.equal(theirs?.state, 'accepted', 'H: host list --in shows it accepted');
  });

  await t.test('3. H invites B, C and D to the session, naming the application', async (t) => {
    const session = need(sid, 'the session');
    for (const [name, h] of [
      ['C', C],
      ['D', D],
    ] as const) {
      await h.setPolicy(['--invite', 'nearby', '--minutes', '30']);
      const p = await h.policy();
      t.equal(p.invite.mode, 'nearby', `${name}: policy invite nearby`);
    }
    // "nearby" means verified on the subnet: both sides must have seen each other first.
    await Promise.all([B, C, D].map((h) => h.waitPeer((p) => p.id === sh.id && p.verified === true)));
    await Promise.all([sb, sc, sd].map((s) => H.waitPeer((p) => p.id === s.id && p.verified === true)));

    const r = await H.cli(
      [
        'invite',
        sb.id,
        sc.id,
        sd.id,
        '--session',
        session,
        '--app',
        APP,
        '--message',
        INVITE_MESSAGE,
        '--expires',
        '900',
        '--json',
      ],
      60_000,
    );
    t.equal(r.code, 0, `invite on H: ${r.stderr.trim()}`);
    const sent = r.json<InviteResult>();
    t.equal(sent.session, session, 'into the session of the host request');
    t.same(names(sent.invitations.map((i) => i.peer)), ['B', 'C', 'D'], 'one invitation each for B, C, D');
    for (const i of sent.invitations) {
      t.equal(i.direction, 'out', `${who[i.peer]}: out`);
      t.equal(i.state, 'pending', `${who[i.peer]}: pending`);
      t.equal(i.appId, APP, `${who[i.peer]}: names the application`);
    }
    const byPeer = new Map(sent.invitations.map((i) => [i.peer, i.id]));
    inv.B = byPeer.get(sb.id);
    inv.C = byPeer.get(sc.id);
    inv.D = byPeer.get(sd.id);

    for (const [name, h] of [
      ['B', B],
      ['C', C],
      ['D', D],
    ] as const) {
      const got = await h.waitInvitation(
        (i) => i.session === session && i.state === 'pending',
        { direction: 'in' },
        { timeout: 30_000 },
      );
      t.equal(got.peer, sh.id, `${name}: from H`);
      t.equal(got.direction, 'in', `${name}: in`);
      t.equal(got.id, inv[name], `${name}: the invitation H sent`);
      t.equal(got.appId, APP, `${name}: naming the application`);
      t.equal(got.message, INVITE_MESSAGE, `${name}: with H’s message`);
    }
  });

  await t.test('4. B and C add H to their contacts', async (t) => {
    for (const [name, h] of [
      ['B', B],
      ['C', C],
    ] as const) {
      const r = await h.contactsCli(['add-nearby', sh.id, '--json']);
      t.equal(r.code, 0, `${name}: contacts add-nearby H: ${r.stderr.trim()}`);
      t.equal(r.code === 0 ? r.json<ContactRow>().id : null, sh.id, `${name}: the added contact is H`);
      t.ok(
        (await h.contacts()).some((c) => c.id === sh.id),
        `${name}: H in the contact list`,
      );
    }
    t.notOk(
      (await D.contacts()).some((c) => c.id === sh.id),
      'D did not add H',
    );
  });

  await t.test('5. B accepts, C declines, D never answers', async (t) => {
    const b = await B.cli(['accept', need(inv.B, 'B’s invitation'), '--json'], 60_000);
    t.equal(b.code, 0, `B accepts: ${b.stderr.trim()}`);
    const acc = b.json<AcceptRow>();
    t.equal(acc.state, 'accepted', 'B: accepted');
    t.equal(acc.joined, true, `B joined H's session${acc.joinError ? `: ${acc.joinError}` : ''}`);
    t.notOk(acc.joinError, 'no join error');
    t.equal(acc.launched?.appId, APP, 'the named application was launched');
    t.notOk(acc.launched?.error, `without a launch error: ${acc.launched?.error ?? ''}`);

    const c = await C.cli(['decline', need(inv.C, 'C’s invitation'), '--json'], 60_000);
    t.equal(c.code, 0, `C declines: ${c.stderr.trim()}`);
    t.equal(c.json<InvitationRow>().state, 'declined', 'C: declined');

    const d = (await D.invitations({ direction: 'in' })).find((i) => i.id === inv.D);
    t.equal(d?.state, 'pending', 'D: still pending (no answer)');
  });

  await t.test('6. B registers with H and holds a membership certificate', async (t) => {
    const session = need(sid, 'the session');
    const s = await waitFor(async () => (await B.sessions()).find((x) => x.id === session), {
      message: `B: session ${session} in session list`,
    });
    t.equal(s.role, 'member', 'B: role member');
    t.equal(s.host, sh.id, 'host = H');
    t.equal(s.state, 'joined', 'joined');
    const m = s.membership;
    t.match(m?.certPem, /-----BEGIN CERTIFICATE-----/, 'a membership certificate (PEM)');
    const certPem = need(m?.certPem, 'the membership certificate');

    const HI = H.identity();
    const BI = B.identity();
    const certFile = join(lab.node(1).dir, 'membership.cert.pem');
    await writeFile(certFile, certPem);
    const ok = await lab.exec(1, 'openssl', ['verify', '-partial_chain', '-CAfile', HI.rootCert, certFile]);
    t.equal(ok.code, 0, `openssl verify against H's root: ${(ok.stdout + ok.stderr).trim()}`);
    const wrong = await lab.exec(1, 'openssl', [
      'verify',
      '-partial_chain',
      '-CAfile',
      BI.rootCert,
      certFile,
    ]);
    t.not(wrong.code, 0, 'and not against B’s own root');

    const key = async (file: string): Promise<string> => {
      const r = await lab.exec(1, 'openssl', ['x509', '-pubkey', '-noout', '-in', file]);
      if (r.code !== 0) throw new Error(`openssl x509 -pubkey ${file}: ${r.stderr.trim()}`);
      return pem(r.stdout);
    };
    t.equal(await key(certFile), await key(BI.rootCert), 'the certificate’s subject key is B’s root key');
    t.not(await key(certFile), await key(HI.rootCert), 'not H’s');

    const x = new X509Certificate(certPem);
    t.match(
      x.subjectAltName ?? '',
      `urn:peerhub:session:${session}`,
      `SAN names the session: ${x.subjectAltName}`,
    );
    t.ok(x.checkIssued(new X509Certificate(readFileSync(HI.rootCert))), 'issued by H’s root (Node)');
    t.equal(m?.chainPem.length, 2, 'chain = [membership, H root]');
    t.equal(pem(m?.chainPem[1] ?? ''), pem(readFileSync(HI.rootCert, 'utf8')), 'the chain ends at H’s root');

    const onH = await H.waitSession(session, (x) => x.members.some((mm) => mm.id === sb.id), {
      timeout: 20_000,
    });
    t.ok(onH, 'H’s roster has B');
  });

  await t.test('7. H: B in contacts, the tally, cancel of the unanswered invitation', async (t) => {
    const session = need(sid, 'the session');
    const contact = await waitFor(async () => (await H.contacts()).find((c) => c.id === sb.id), {
      message: 'H: B in contacts (contacts on activity)',
    });
    t.equal(contact.nickname, 'Bob', 'H added B to its contacts');

    const before = await H.waitSession(
      session,
      (s) => !!s.invitations?.accepted.includes(sb.id) && !!s.invitations?.declined.includes(sc.id),
      { timeout: 30_000 },
    );
    t.same(names(before.invitations?.accepted), ['B'], 'accepted = [B]');
    t.same(names(before.invitations?.declined), ['C'], 'declined = [C]');
    t.same(names(before.invitations?.noResponse), ['D'], 'no response = [D]');
    t.same(names(before.invitations?.failed), [], 'failed = []');

    const r = await H.cli(['cancel', '--no-response', '--session', session, '--json'], 60_000);
    t.equal(r.code, 0, `cancel --no-response on H: ${r.stderr.trim()}`);
    const cancelled = r.json<InvitationRow[]>();
    t.same(
      cancelled.map((i) => [who[i.peer], i.id, i.state]),
      [['D', inv.D, 'cancelled']],
      'only D’s invitation, cancelled',
    );

    const onD = await D.waitInvitation(
      (i) => i.id === inv.D && i.state === 'cancelled',
      { direction: 'in' },
      { timeout: 30_000 },
    );
    t.equal(onD.peer, sh.id, 'D: H’s invitation shows cancelled');
    const onC = (await C.invitations({ direction: 'in' })).find((i) => i.id === inv.C);
    t.equal(onC?.state, 'declined', 'C: declined');
    const onB = (await B.invitations({ direction: 'in' })).find((i) => i.id === inv.B);
    t.equal(onB?.state, 'accepted', 'B: accepted');

    const out = await H.invitations({ direction: 'out', session });
    t.same(
      Object.fromEntries(out.map((i) => [who[i.peer], i.state])),
      { B: 'accepted', C: 'declined', D: 'cancelled' },
      'H: invitations --out agree',
    );
    const after = await H.session(session);
    t.same(names(after.invitations?.noResponse), ['D'], 'the tally still counts D as no response');
  });

  await t.test('8. H and B exchange messages in one order; the application was launched', async (t) => {
    const session = need(sid, 'the session');
    for (const [h, text] of [
      [H, TEXTS[0]],
      [B, TEXTS[1]],
      [H, TEXTS[2]],
    ] as const) {
      const r = await h.cli(['session', 'send', session, text as string], 30_000);
      t.equal(r.code, 0, `hub ${h.index} sends "${text}": ${r.stderr.trim()}`);
    }
    const last = (s: { messages: SessionMessageRow[] }): boolean =>
      s.messages.some((m) => m.text === TEXTS[2]);
    const [onH, onB] = await Promise.all([
      H.waitSession(session, last, { timeout: 30_000 }),
      B.waitSession(session, last, { timeout: 30_000 }),
    ]);
    const view = (ms: SessionMessageRow[]) => ms.map((m) => ({ seq: m.seq, from: m.from, text: m.text }));
    const ours = (ms: SessionMessageRow[]) => ms.filter((m) => TEXTS.includes(m.text));
    t.same(
      ours(onH.messages).map((m) => [who[m.from], m.text]),
      [
        ['H', TEXTS[0]],
        ['B', TEXTS[1]],
        ['H', TEXTS[2]],
      ],
      'H: the three messages, in the order sent, from the right senders',
    );
    t.same(view(ours(onB.messages)), view(ours(onH.messages)), 'B lists the same messages with the same seq');
    t.same(view(onB.messages), view(onH.messages), 'and nothing else differs between H and B');
    const seqs = ours(onH.messages).map((m) => m.seq);
    t.ok(
      seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number)),
      `seq increases: ${JSON.stringify(seqs)}`,
    );

    const info = await waitFor(
      () =>
        existsSync(launchedFile) ? (JSON.parse(readFileSync(launchedFile, 'utf8')) as LaunchInfo) : null,
      { timeout: 30_000, message: `the application's output ${launchedFile}` },
    );
    t.comment(`launch info: ${JSON.stringify(info)}`);
    t.equal(info.inviter?.peerId, sh.id, 'launch info: inviter.peerId = H');
    t.equal(info.inviter?.nickname, 'Helen', 'inviter.nickname');
    t.equal(info.sessionId, session, 'sessionId = the session');
    t.equal(info.invitationId, inv.B, 'invitationId = B’s invitation');
    t.equal(info.message, INVITE_MESSAGE, 'message = the invitation’s');
  });

  await t.test('H ends the session: B sees it ended', async (t) => {
    const session = need(sid, 'the session');
    const r = await H.cli(['session', 'end', session], 30_000);
    t.equal(r.code, 0, `session end on H: ${r.stderr.trim()}`);
    const onB = await waitFor(
      async () => (await B.sessions()).find((s: SessionRow) => s.id === session && s.state === 'ended'),
      { timeout: 30_000, message: `B: session ${session} ended` },
    );
    t.equal(onB.role, 'member', 'B: the session it is a member of is ended');
    t.equal((await H.sessions()).find((s) => s.id === session)?.state, 'ended', 'H: ended');
  });

  await t.test('an answer after cancel is refused', async (t) => {
    const id = need(inv.D, 'D’s invitation');
    const r = await D.cli(['accept', id], 30_000);
    t.not(r.code, 0, 'D accepting a cancelled invitation: non-zero exit');
    const msg = r.stderr.trim();
    t.equal(oneLine(msg).length, 1, `one line on stderr: ${msg}`);
    t.match(msg, /cancel/i, 'saying it was cancelled');
    t.notMatch(msg, stackTrace, 'no stack trace');
    const row = (await D.invitations({ direction: 'in' })).find((i) => i.id === id);
    t.equal(row?.state, 'cancelled', 'D: still cancelled');
    const onH = (await H.invitations({ direction: 'out' })).find((i) => i.id === id);
    t.equal(onH?.state, 'cancelled', 'H: still cancelled');
  });
}
