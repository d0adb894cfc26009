/**
 * Torture part "attacks" (issue 7): real agents in the LAN lab, attacked where an owner would meet it —
 * real mDNS on real sockets, the real mutual-TLS peer API. Each scenario shows the hub refusing the
 * attack and still working (a control request that must succeed sits beside every refusal).
 * - spoofed peer id: a python3-zeroconf publisher announces Helen's id, pointing at Carol's peer API
 *   (Carol's key answers): Bob shows it as a spoof, never as Helen.
 * - replayed requests: Helen's invitation body sent again to Bob by Helen (idempotent) and by Carol
 *   (refused); Bob's answer sent again by Bob (idempotent) and by Carol (refused); Bob's registration
 *   sent again by Bob (one membership) and by Carol with Bob's key (refused).
 * - membership certificates: another session's, one minted by another host's root, an expired one
 *   minted with Helen's own root key (firmware/identity, beside a fresh control minted the same way),
 *   another member's, a removed member's — all 403, nothing posted.
 * - a removed contact: subscription and invitations refused after removal (both allowed before).
 * - mDNS: an announcement from an off-link source (ignored, counted `offlink`), from UDP port ≠ 5353
 *   (ignored, counted `badPort`), with IP TTL 1 (the agent cannot read the received TTL: accepted; an
 *   nftables rule in the hub's namespace drops it — shown).
 * Scenario functions are shared with the bounded tap subset (attacks.test.ts).
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeMembership, MEMBERSHIP_HEADER } from '../../firmware/collab/peer-routes.js';
import { issueMembership } from '../../firmware/collab/sessions-certs.js';
import { formatPeerId } from '../../firmware/identity/index.js';
import {
  agentCliPath,
  repoRoot,
  waitFor,
  type Hub,
  type HubStatus,
  type Lab,
  type PeerCredentials,
  type WatchEvent,
} from '../lab/harness.js';
import type { InvitationRow, InviteResult, SessionRow } from '../lab/hub.js';
import { Checks, delta, loadavg, partLab, type Outcome } from './checks.js';
import type { TorturePart, TortureRow } from './types.js';

export interface AttackLab {
  lab: Lab;
  H: Hub; // Helen, node 0: hosts sessions
  B: Hub; // Bob, node 1: invited, member
  C: Hub; // Carol, node 2: the third party (replays, impostor's peer API)
  raw: number; // node 3: no hub, raw mDNS packets
  id: { H: string; B: string; C: string };
  creds: { H: PeerCredentials; B: PeerCredentials; C: PeerCredentials };
  /** Set by the collaboration scenarios. */
  s1?: string;
  invitation?: InvitationRow;
}

export async function attackLab(lab: Lab): Promise<AttackLab> {
  const [H, B, C] = await Promise.all([
    lab.startHub(0, { nickname: 'Helen', logLevel: 'info', readyTimeout: 120_000 }),
    lab.startHub(1, { nickname: 'Bob', logLevel: 'info', readyTimeout: 120_000 }),
    lab.startHub(2, { nickname: 'Carol', logLevel: 'info', readyTimeout: 120_000 }),
  ]);
  const [sh, sb, sc] = (await Promise.all([H, B, C].map((h) => h.status()))) as [
    HubStatus,
    HubStatus,
    HubStatus,
  ];
  const creds = (h: Hub): PeerCredentials => {
    const i = h.identity();
    return { cert: i.tlsCert, key: i.tlsKey, chain: i.rootCert };
  };
  // Everyone verified everyone (the TLS handshake proved each id) before any attack.
  const pairs: Array<[Hub, string]> = [
    [H, sb.id],
    [H, sc.id],
    [B, sh.id],
    [B, sc.id],
    [C, sh.id],
    [C, sb.id],
  ];
  await Promise.all(
    pairs.map(([h, id]) => h.waitPeer((p) => p.id === id && p.verified === true, { timeout: 45_000 })),
  );
  return {
    lab,
    H,
    B,
    C,
    raw: 3,
    id: { H: sh.id, B: sb.id, C: sc.id },
    creds: { H: creds(H), B: creds(B), C: creds(C) },
  };
}

// ---- helpers ----------------------------------------------------------------------------------------

interface PeerCall {
  method?: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}
interface PeerReply {
  status: number | null;
  body: unknown;
  error?: string;
}

let callSeq = 0;
/** Requests over one mutual-TLS session from node `from`, as the holder of `creds`, to `host`:7443. */
export async function peerCalls(
  a: AttackLab,
  from: number,
  host: string,
  creds: PeerCredentials,
  calls: PeerCall[],
): Promise<PeerReply[]> {
  const file = join(a.lab.node(from).dir, `calls-${++callSeq}.json`);
  writeFileSync(file, JSON.stringify(calls));
  const r = await a.lab.exec(
    from,
    process.execPath,
    [
      join(repoRoot(), 'test/lab/peer_requests.mjs'),
      '--host',
      host,
      '--cert',
      creds.cert,
      '--key',
      creds.key,
      ...(creds.chain ? ['--chain', creds.chain] : []),
      '--requests',
      file,
    ],
    { timeoutMs: 60_000 },
  );
  if (r.code !== 0) throw new Error(`peer_requests: ${r.code} ${r.stderr.trim().slice(0, 300)}`);
  const out = r.json<{ results: PeerReply[]; error?: string }>();
  if (out.error) throw new Error(`peer_requests: ${out.error}`);
  return out.results;
}

const codeOf = (r: PeerReply | undefined): string =>
  (r?.body as { code?: string } | null)?.code ?? r?.error ?? '';
const refused = (r: PeerReply | undefined): boolean =>
  !!r && r.status !== null && r.status >= 400 && r.status < 500;
const show = (r: PeerReply | undefined): string => `${r?.status ?? 'no status'} ${codeOf(r)}`.trim();

function rootPublicKey(h: Hub): string {
  return new X509Certificate(readFileSync(h.identity().rootCert)).publicKey.export({
    type: 'spki',
    format: 'pem',
  }) as string;
}

async function withTiming<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, Math.round(performance.now() - t0)];
}

// ---- spoofed peer id ---------------------------------------------------------------------------------

export async function spoofedPeerId(a: AttackLab): Promise<Outcome> {
  const c = new Checks();
  const { lab, B } = a;
  // Bob's event stream from the start of its buffer (a watcher started under load may connect late).
  const events = lab.spawn<WatchEvent>(
    1,
    process.execPath,
    [agentCliPath(), '--socket', B.socket, 'watch', '--json', '--since', '0'],
    { name: 'watch-spoof', parse: (l) => (l.startsWith('{') ? (JSON.parse(l) as WatchEvent) : undefined) },
  );
  // Carol's node announces "Mallory" with Helen's id, pointing at Carol's peer API (Carol's key answers).
  const mallory = await lab.zeroconfPublish(2, {
    name: 'Mallory',
    port: 7443,
    host: `${lab.id.replace(/^phlab-\d+-/, 'phl')}-mallory`,
    txt: ['v=1', `id=${a.id.H}`, 'st=Online', 'seq=1'],
  });
  try {
    const [row, ms] = await withTiming(() =>
      B.waitPeer((p) => p.instance === 'Mallory' && p.spoof === true, { timeout: 45_000 }),
    );
    c.fig('spoofFlaggedMs', ms);
    c.ok(row.verified === false, 'Mallory: flagged spoof, not verified');
    const ev = await c.step('peer:spoof event', () =>
      events.waitForRecord((e: WatchEvent) => e.type === 'peer:spoof' && e.data.instance === 'Mallory', {
        timeout: 30_000,
      }),
    );
    const d = (ev?.value.data ?? {}) as Record<string, unknown>;
    c.ok(
      d.claimed === a.id.H && d.presented === a.id.C,
      'peer:spoof names the claimed id (Helen) and the key that answered (Carol)',
    );
    const rows = await B.peers();
    const helen = rows.find((p) => p.instance === 'Helen');
    c.ok(
      helen?.id === a.id.H && helen.verified === true && helen.spoof === false,
      'Helen still listed as herself, verified',
    );
    c.ok(
      !rows.some((p) => p.instance !== 'Helen' && p.verified === true && p.id === a.id.H),
      'nobody else shown verified as Helen',
    );
    c.ok(
      !events.records.some(
        (r) => r.value.type === 'peer:verified' && JSON.stringify(r.value.data).includes('Mallory'),
      ),
      'never peer:verified for the impostor',
    );
    const add = await B.contactsCli(['add-nearby', 'Mallory', '--json']);
    c.ok(add.code !== 0, `adding the impostor as a contact is refused (${add.stderr.trim().slice(0, 80)})`);
    c.fig('spoofRowsOnBob', rows.filter((p) => p.spoof).length);
  } finally {
    mallory.send('quit');
    await events.stop('SIGTERM', 3000);
  }
  // Its goodbye (UDP) may be lost on a busy machine: reported, not asserted (its records expire anyway).
  const [gone, goneMs] = await withTiming(() =>
    B.waitNoPeer((p) => p.instance === 'Mallory', { timeout: 30_000 }).then(
      () => true,
      () => false,
    ),
  );
  c.fig('impostorGoneAfterGoodbyeMs', gone ? goneMs : 'still listed after 30 s');
  return c.outcome(
    'spoofed peer id (python3-zeroconf announcing another hub’s id)',
    'shown as a spoof with the claimed and presented ids, never as that person; the real hub stays verified',
  );
}

// ---- replayed requests -------------------------------------------------------------------------------

/** Helen hosts a session and invites Bob (Bob allows nearby hubs to invite him). */
export async function inviteBob(a: AttackLab): Promise<InvitationRow> {
  const { H, B } = a;
  await B.setPolicy(['--invite', 'nearby', '--minutes', '30']);
  const created = await H.cliJson<SessionRow>(['session', 'create', '--json']);
  a.s1 = created.id;
  const sent = await H.cliJson<InviteResult>([
    'invite',
    a.id.B,
    '--session',
    created.id,
    '--message',
    'replay me',
    '--expires',
    '900',
    '--json',
  ]);
  const inv = sent.invitations[0] as InvitationRow;
  await B.waitInvitation(
    (i) => i.id === inv.id && i.state === 'pending',
    { direction: 'in' },
    { timeout: 30_000 },
  );
  a.invitation = inv;
  return inv;
}

export async function replayedRequests(a: AttackLab): Promise<Outcome> {
  const c = new Checks();
  const { lab, H, B } = a;
  const inv = a.invitation ?? (await inviteBob(a));
  const s1 = a.s1 as string;
  const atB = lab.address(1);
  const atH = lab.address(0);
  // The body Helen sent (its fields from Helen's own record; only expiresInMs is "time left").
  const out = (await H.invitations({ direction: 'out' })).find((i) => i.id === inv.id) as InvitationRow;
  const invitationBody = {
    id: inv.id,
    sessionId: s1,
    message: out.message,
    expiresInMs: Math.max(60_000, (out.expiresAt ?? Date.now() + 600_000) - Date.now()),
  };
  const countIn = async (): Promise<InvitationRow[]> =>
    (await B.invitations({ direction: 'in' })).filter((i) => i.session === s1);

  // 1. The invitation, replayed by its sender and by a third party.
  const [byHelen] = await peerCalls(a, 0, atB, a.creds.H, [
    { method: 'POST', path: '/v1/invitations', body: invitationBody },
  ]);
  c.ok(
    byHelen?.status === 200,
    `invitation replayed by Helen: acknowledged as a duplicate (${show(byHelen)})`,
  );
  const [byCarol] = await peerCalls(a, 2, atB, a.creds.C, [
    { method: 'POST', path: '/v1/invitations', body: invitationBody },
  ]);
  c.ok(refused(byCarol), `invitation replayed by Carol: refused (${show(byCarol)})`);
  const ins = await countIn();
  c.ok(
    ins.length === 1 && ins[0]?.peer === a.id.H && ins[0]?.state === 'pending',
    `Bob holds one invitation, from Helen, pending (${ins.length})`,
  );
  c.fig('invitationReplay.helen', show(byHelen));
  c.fig('invitationReplay.carol', show(byCarol));

  // 2. Bob accepts (and registers); then his answer is replayed.
  const acc = await B.cli(['accept', inv.id, '--json'], 60_000);
  c.ok(acc.code === 0, `Bob accepts (${acc.stderr.trim().slice(0, 120)})`);
  const joined = await c.step('Bob joined', () =>
    waitFor(
      async () => (await B.sessions()).find((s) => s.id === s1 && s.state === 'joined' && s.membership),
      {
        timeout: 30_000,
      },
    ),
  );
  const rosterBefore = (await H.session(s1)).members.filter((m) => m.id === a.id.B).length;
  const answer = { id: inv.id, answer: 'accepted' };
  const [ansBob, ansBobDecline] = await peerCalls(a, 1, atH, a.creds.B, [
    { method: 'POST', path: '/v1/invitations/answer', body: answer },
    { method: 'POST', path: '/v1/invitations/answer', body: { ...answer, answer: 'declined' } },
  ]);
  c.ok(
    ansBob?.status === 200 || codeOf(ansBob) === 'PH_ERR_INVITATION_CLOSED',
    `answer replayed by Bob: idempotent (${show(ansBob)})`,
  );
  const [ansCarol] = await peerCalls(a, 2, atH, a.creds.C, [
    { method: 'POST', path: '/v1/invitations/answer', body: { ...answer, answer: 'declined' } },
  ]);
  c.ok(refused(ansCarol), `answer replayed by Carol (as a decline): refused (${show(ansCarol)})`);
  const outAfter = (await H.invitations({ direction: 'out' })).filter((i) => i.session === s1);
  c.ok(
    outAfter.length === 1 && outAfter[0]?.state === 'accepted',
    `Helen: one invitation, still accepted (${outAfter.map((i) => i.state).join(',')})`,
  );
  c.fig('answerReplay.bob', show(ansBob));
  c.fig('answerReplay.bobFlipToDecline', show(ansBobDecline));
  c.fig('answerReplay.carol', show(ansCarol));

  // 3. Registration replayed by Bob (same key) and by Carol (Bob's key, and her own).
  const reg = { publicKeyPem: rootPublicKey(B), nickname: 'Bob' };
  const [regBob] = await peerCalls(a, 1, atH, a.creds.B, [
    { method: 'POST', path: `/v1/sessions/${s1}/register`, body: reg },
  ]);
  c.ok(
    regBob?.status === 200,
    `registration replayed by Bob: a fresh certificate, no second membership (${show(regBob)})`,
  );
  const [regCarolBobKey, regCarolOwn] = await peerCalls(a, 2, atH, a.creds.C, [
    { method: 'POST', path: `/v1/sessions/${s1}/register`, body: reg },
    {
      method: 'POST',
      path: `/v1/sessions/${s1}/register`,
      body: { publicKeyPem: rootPublicKey(a.C), nickname: 'Carol' },
    },
  ]);
  c.ok(refused(regCarolBobKey), `Bob's registration replayed by Carol: refused (${show(regCarolBobKey)})`);
  c.ok(refused(regCarolOwn), `Carol registering without an invitation: refused (${show(regCarolOwn)})`);
  const members = (await H.session(s1)).members;
  c.ok(
    members.filter((m) => m.id === a.id.B).length === 1 && rosterBefore === 1,
    `Helen's roster: Bob once (${members.map((m) => m.name).join(', ')})`,
  );
  c.ok(!members.some((m) => m.id === a.id.C), 'Carol not on the roster');
  c.ok(
    joined !== null && (await B.sessions()).some((s) => s.id === s1 && s.state === 'joined'),
    'Bob still joined',
  );
  c.fig('registerReplay.bob', show(regBob));
  c.fig('registerReplay.carolWithBobsKey', show(regCarolBobKey));
  c.fig('registerReplay.carolOwnKey', show(regCarolOwn));
  c.fig('rosterSize', members.length);
  return c.outcome(
    'replayed peer API requests (invitation, answer, registration; same and other client certificate)',
    'replays by the sender are idempotent, by another certificate refused; one invitation, one membership',
  );
}

// ---- membership certificates -------------------------------------------------------------------------

export async function membershipCertificates(a: AttackLab): Promise<Outcome> {
  const c = new Checks();
  const { H, B, C } = a;
  const atH = a.lab.address(0);
  if (!a.s1 || !(await B.sessions()).some((s) => s.id === a.s1 && s.state === 'joined'))
    await replayedRequests(a);
  const s1 = a.s1 as string;
  const s2 = (await H.cliJson<SessionRow>(['session', 'create', '--json'])).id;
  const mine = (await B.sessions()).find((s) => s.id === s1)?.membership;
  if (!mine) {
    c.ok(false, 'Bob holds a membership certificate for session 1');
    return c.outcome('membership certificates', '');
  }
  const hdr = (chain: string[]): Record<string, string> => ({ [MEMBERSHIP_HEADER]: encodeMembership(chain) });
  const HI = H.identity();
  const CI = C.identity();
  const bobKey = rootPublicKey(B);
  const mint = (rootCert: string, rootKey: string, peerId: string, now: number, session = s1): string[] =>
    issueMembership(
      { peerId, rootCertPem: readFileSync(rootCert, 'utf8'), rootKeyPem: readFileSync(rootKey, 'utf8') },
      { sessionId: session, peerId: a.id.B, publicKeyPem: bobKey, now },
    ).chainPem;
  const DAY = 24 * 3_600_000;
  const fresh = mint(HI.rootCert, HI.rootKey, a.id.H, Date.now());
  const expired = mint(HI.rootCert, HI.rootKey, a.id.H, Date.now() - 3 * DAY);
  const otherHost = mint(CI.rootCert, CI.rootKey, a.id.C, Date.now());
  c.fig('expiredNotAfter', new X509Certificate(expired[0] as string).validTo);

  const asBob = await peerCalls(a, 1, atH, a.creds.B, [
    { path: `/v1/sessions/${s1}/messages`, headers: hdr(mine.chainPem) }, // 0 control: Bob's own
    { path: `/v1/sessions/${s2}/messages`, headers: hdr(mine.chainPem) }, // 1 another session's
    {
      method: 'POST',
      path: `/v1/sessions/${s2}/messages`,
      headers: hdr(mine.chainPem),
      body: { text: 'from s1' },
    },
    { path: `/v1/sessions/${s2}/stream`, headers: hdr(mine.chainPem) },
    { path: `/v1/sessions/${s1}/messages`, headers: hdr(otherHost) }, // 4 minted by another host's root
    { path: `/v1/sessions/${s1}/messages`, headers: hdr(expired) }, // 5 expired (Helen's root)
    { path: `/v1/sessions/${s1}/messages`, headers: hdr(fresh) }, // 6 control: minted alike, valid now
    { path: `/v1/sessions/${s1}/messages` }, // 7 none at all
  ]);
  const [own, other, otherPost, otherStream, byOtherHost, exp, freshOk, none] = asBob;
  c.ok(own?.status === 200, `control: Bob's own certificate for session 1 → ${show(own)}`);
  c.ok(refused(other), `session 1's certificate for session 2 (read) → ${show(other)}`);
  c.ok(refused(otherPost), `session 1's certificate for session 2 (post) → ${show(otherPost)}`);
  c.ok(refused(otherStream), `session 1's certificate for session 2 (stream) → ${show(otherStream)}`);
  c.ok(refused(byOtherHost), `certificate minted by another hub's root → ${show(byOtherHost)}`);
  c.ok(refused(exp), `expired certificate → ${show(exp)}`);
  c.ok(freshOk?.status === 200, `control: the same minting, valid now → ${show(freshOk)}`);
  c.ok(refused(none), `no certificate → ${show(none)}`);
  const [stolen] = await peerCalls(a, 2, atH, a.creds.C, [
    { path: `/v1/sessions/${s1}/messages`, headers: hdr(mine.chainPem) },
  ]);
  c.ok(refused(stolen), `Bob's certificate presented by Carol → ${show(stolen)}`);
  const s2msgs = (await H.session(s2)).messages.length;
  c.ok(s2msgs === 0, `nothing was posted to session 2 (${s2msgs} messages)`);
  for (const [k, r] of Object.entries({
    own,
    other,
    otherPost,
    otherStream,
    byOtherHost,
    exp,
    freshOk,
    none,
    stolen,
  }))
    c.fig(k, show(r));

  // A member removed by the host: its certificate (still within its validity) no longer opens anything.
  const rm = await H.cli(['session', 'remove', s1, a.id.B, '--json']);
  c.ok(rm.code === 0, `Helen removes Bob (${rm.stderr.trim().slice(0, 80)})`);
  const [afterRemoval] = await peerCalls(a, 1, atH, a.creds.B, [
    { path: `/v1/sessions/${s1}/messages`, headers: hdr(mine.chainPem) },
  ]);
  c.ok(refused(afterRemoval), `removed member's certificate → ${show(afterRemoval)}`);
  c.fig('removedMember', show(afterRemoval));
  return c.outcome(
    'membership certificates: another session’s, another host’s, expired, another member’s, a removed member’s',
    'all refused (403) beside controls that pass; nothing posted',
  );
}

// ---- a removed contact -------------------------------------------------------------------------------

export async function removedContact(a: AttackLab): Promise<Outcome> {
  const c = new Checks();
  const { B, C } = a;
  const atC = a.lab.address(2);
  for (const [h, id] of [
    [B, a.id.C],
    [C, a.id.B],
  ] as const) {
    const r = await h.contactsCli(['add-nearby', id, '--json']);
    c.ok(r.code === 0, `contacts add-nearby (${r.stderr.trim().slice(0, 80)})`);
  }
  await c.step('Bob sees Carol online through his subscription', () =>
    B.waitContact(a.id.C, (x) => x.online, { timeout: 45_000 }),
  );
  const newInvitation = (): Record<string, unknown> => ({
    id: randomBytes(16).toString('hex'),
    sessionId: `s-${randomBytes(4).toString('hex')}`,
    message: 'let me in',
    expiresInMs: 300_000,
  });
  const [subBefore, invBefore] = await peerCalls(a, 1, atC, a.creds.B, [
    { path: '/v1/events' },
    { method: 'POST', path: '/v1/invitations', body: newInvitation() },
  ]);
  c.ok(subBefore?.status === 200, `control: Bob, a contact, may subscribe (${show(subBefore)})`);
  c.ok(invBefore?.status === 200, `control: and invite (${show(invBefore)})`);
  const pendingBefore = (await C.invitations({ direction: 'in' })).filter((i) => i.peer === a.id.B).length;

  const rm = await C.contactsCli(['remove', a.id.B, '--json']);
  c.ok(rm.code === 0, `Carol removes Bob (${rm.stderr.trim().slice(0, 80)})`);
  const removedAt = performance.now();
  const [subAfter, invAfter] = await peerCalls(a, 1, atC, a.creds.B, [
    { path: '/v1/events' },
    { method: 'POST', path: '/v1/invitations', body: newInvitation() },
  ]);
  c.ok(subAfter?.status === 403, `removed: subscription refused (${show(subAfter)})`);
  c.ok(refused(invAfter), `removed: invitation refused (${show(invAfter)})`);
  const cli = await B.cli(['invite', a.id.C, '--message', 'still there?', '--json'], 60_000);
  const viaCli = cli.code === 0 ? cli.json<InviteResult>().invitations[0] : undefined;
  const outcome = viaCli
    ? await waitFor(
        async () =>
          (await B.invitations({ direction: 'out' })).find(
            (i) => i.id === viaCli.id && i.state !== 'pending',
          ),
        { timeout: 60_000 },
      ).catch(() => viaCli)
    : undefined;
  c.ok(
    outcome?.state === 'failed',
    `Bob's own hub reports the invitation failed (${outcome?.state}: ${outcome?.reason ?? ''})`,
  );
  const pendingAfter = (await C.invitations({ direction: 'in' })).filter((i) => i.peer === a.id.B).length;
  c.ok(
    pendingAfter === pendingBefore,
    `Carol holds no new invitation from Bob (${pendingBefore} → ${pendingAfter})`,
  );
  const off = await c.step('Bob’s view of Carol goes offline (stream dropped, refused)', () =>
    B.waitContact(a.id.C, (x) => !x.online, { timeout: 60_000 }),
  );
  c.fig('bobSeesCarolOfflineMs', off ? Math.round(performance.now() - removedAt) : 'never');
  c.fig('subscribeBefore', show(subBefore));
  c.fig('subscribeAfter', show(subAfter));
  c.fig('inviteBefore', show(invBefore));
  c.fig('inviteAfter', show(invAfter));
  c.fig('cliInviteAfter', `${outcome?.state ?? 'none'} ${outcome?.reason ?? ''}`.trim());
  return c.outcome(
    'a removed contact subscribing and inviting',
    'allowed while a contact, refused (403) once removed; its open subscription is dropped',
  );
}

// ---- mDNS: off-link, port, TTL -----------------------------------------------------------------------

export const OFFLINK_SOURCE = '192.0.2.77'; // TEST-NET-1, added to the raw node's eth0 for the test
const ANNOUNCES = 20;

export async function mdnsSources(a: AttackLab): Promise<Outcome> {
  const c = new Checks();
  const { lab, H, B } = a;
  const raw = a.raw;
  const onLink = lab.address(raw);
  await lab.exec(raw, 'ip', ['addr', 'add', `${OFFLINK_SOURCE}/24`, 'dev', 'eth0']);
  const announce = async (
    name: string,
    opts: { from?: string; ttl?: number; sport?: number; dest?: string },
  ) => {
    const r = await lab.exec(
      raw,
      '/usr/bin/python3',
      [
        join(repoRoot(), 'test/lab/mdns_storm.py'),
        'announce',
        '--interface',
        opts.from ?? onLink,
        '--addr',
        onLink,
        '--name',
        name,
        '--id',
        formatPeerId(randomBytes(32)),
        '--count',
        String(ANNOUNCES),
        '--interval-ms',
        '50',
        '--ttl',
        String(opts.ttl ?? 255),
        '--sport',
        String(opts.sport ?? 5353),
        '--dest',
        opts.dest ?? '224.0.0.251',
      ],
      { timeoutMs: 30_000 },
    );
    if (r.code !== 0) throw new Error(`mdns_storm announce ${name}: ${r.stderr.trim().slice(0, 200)}`);
    return r.json<{ sent: number }>().sent;
  };
  const seen = (h: Hub, name: string) => h.waitPeer((p) => p.instance === name, { timeout: 30_000 });
  const absent = async (h: Hub, name: string) => !(await h.peers()).some((p) => p.instance === name);
  const tag = randomBytes(2).toString('hex');
  const before = (await H.status()).counters;

  // Off-link source, then the same announcement on-link: once the latter shows, the former is judged.
  const offSent = await announce(`Offlink-${tag}`, { from: OFFLINK_SOURCE });
  await announce(`Onlink-${tag}`, {});
  const ctl = await c.step('control: the on-link announcement is shown', () => seen(H, `Onlink-${tag}`));
  c.ok(ctl && (await absent(H, `Offlink-${tag}`)), 'the off-link announcement is not shown');
  const mid = (await H.status()).counters;
  c.ok(
    delta(mid, before, 'offlink') >= offSent,
    `counted offlink (+${delta(mid, before, 'offlink')} for ${offSent} sent)`,
  );
  c.fig('offlinkSent', offSent);
  c.fig('offlinkCounted', delta(mid, before, 'offlink'));

  // A unicast response from a port other than 5353 (RFC 6762 §6: ignored).
  const portSent = await announce(`Port-${tag}`, { sport: 40_000, dest: lab.address(0) });
  await announce(`Port-ctl-${tag}`, { dest: lab.address(0) });
  const pctl = await c.step('control: the same from port 5353 is shown', () => seen(H, `Port-ctl-${tag}`));
  c.ok(pctl && (await absent(H, `Port-${tag}`)), 'the response from port 40000 is not shown');
  const mid2 = (await H.status()).counters;
  c.ok(
    delta(mid2, mid, 'badPort') >= portSent,
    `counted badPort (+${delta(mid2, mid, 'badPort')} for ${portSent} sent)`,
  );
  c.fig('badPortSent', portSent);
  c.fig('badPortCounted', delta(mid2, mid, 'badPort'));

  // IP TTL ≠ 255. Node's dgram cannot read a received datagram's TTL (no IP_RECVTTL / recvmsg
  // ancillary data), so the agent cannot apply that check itself: an on-link TTL 1 packet is shown.
  await announce(`Ttl1-${tag}`, { ttl: 1 });
  const ttlSeen = await c.step('TTL 1 announcement (on-link) reaches the agent', () =>
    seen(H, `Ttl1-${tag}`),
  );
  c.fig('ttl1AcceptedByAgent', ttlSeen ? 'yes (cannot read the TTL)' : 'no');
  // Below the agent, nftables can: drop mDNS whose TTL is not 255 in Helen's namespace.
  const table = `phl${tag}`;
  const nft = (args: string[]) => lab.exec(0, 'nft', args, { timeoutMs: 10_000 });
  const rules = [
    ['add', 'table', 'inet', table],
    ['add', 'chain', 'inet', table, 'in', '{ type filter hook input priority 0 ; policy accept ; }'],
    ['add', 'rule', 'inet', table, 'in', 'udp', 'dport', '5353', 'ip', 'ttl', '!=', '255', 'counter', 'drop'],
  ];
  let nftOk = true;
  for (const r of rules) nftOk = nftOk && (await nft(r)).code === 0;
  if (c.ok(nftOk, 'nftables rule in Helen’s namespace: udp dport 5353 ip ttl != 255 drop')) {
    const ttlSent = await announce(`Ttl1-nft-${tag}`, { ttl: 1 });
    await announce(`Ttl255-nft-${tag}`, {});
    const ok255 = await c.step('control: TTL 255 still shown with the rule', () =>
      seen(H, `Ttl255-nft-${tag}`),
    );
    c.ok(ok255 && (await absent(H, `Ttl1-nft-${tag}`)), 'with the rule, the TTL 1 announcement is not shown');
    const bobSaw = await c.step('Bob (no rule) shows it', () => seen(B, `Ttl1-nft-${tag}`));
    c.ok(bobSaw, 'the difference is the rule');
    const listed = (await nft(['list', 'table', 'inet', table])).stdout;
    const dropped = Number(/counter packets (\d+)/.exec(listed)?.[1] ?? 0);
    c.ok(dropped >= ttlSent, `nftables dropped them (${dropped} ≥ ${ttlSent})`);
    c.fig('ttl1DroppedByNft', dropped);
    await nft(['delete', 'table', 'inet', table]);
  }
  const end = (await H.status()).counters;
  c.fig('packetsIn', delta(end, before, 'packetsIn'));
  c.ok(H.running, 'Helen still running');
  return c.outcome(
    'mDNS from off-link sources, from port ≠ 5353, with IP TTL ≠ 255',
    'off-link and wrong-port packets ignored and counted; TTL ≠ 255 accepted by the agent (it cannot read the TTL) and dropped by an nftables rule',
  );
}

// ---- the part ----------------------------------------------------------------------------------------

export const run: TorturePart = async (opts) => {
  const started = Date.now();
  const rows: TortureRow[] = [];
  const { lab, close } = await partLab(4);
  try {
    opts.log(`attacks: lab ${lab.id}, load ${loadavg()}`);
    const a = await attackLab(lab);
    const scenarios: Array<[string, (a: AttackLab) => Promise<Outcome>]> = [
      ['spoofed peer id', spoofedPeerId],
      ['mDNS sources', mdnsSources],
      ['replayed requests', replayedRequests],
      ['membership certificates', membershipCertificates],
      ['removed contact', removedContact],
    ];
    for (const [name, fn] of scenarios) {
      try {
        const out = await fn(a);
        rows.push(out.row);
        opts.log(`attacks: ${name}: ${out.row.result} ${JSON.stringify(out.row.figures)}`);
      } catch (e) {
        rows.push({ name, result: 'fail', figures: {}, detail: (e as Error).message.split('\n')[0] });
      }
    }
  } finally {
    await close();
  }
  return {
    part: 'attacks',
    title:
      'Attacks: spoofed ids, replays, forged and expired membership certificates, removed contacts, hostile mDNS sources',
    date: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    config: {
      hubs: 3,
      rawNode: 1,
      offlinkSource: OFFLINK_SOURCE,
      announcementsPerCase: ANNOUNCES,
      seed: opts.seed,
    },
    rows,
    notes: [
      'RFC 6762 §11 asks receivers to check the source address (done: `offlink`); the IP TTL check is for draft-era compatibility and Node’s dgram cannot read a received TTL (no IP_RECVTTL / recvmsg ancillary data): the agent accepts on-link TTL ≠ 255 packets, an nftables rule (`udp dport 5353 ip ttl != 255 drop`) enforces it below the agent.',
      'Forged and expired membership certificates are minted in the test with firmware/identity (issueCertificate via issueMembership) and the hubs’ own root keys.',
    ],
  };
};
