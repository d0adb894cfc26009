/**
 * Faults (issue 7): real agents in the LAN lab meeting what a user's LAN does to them, and the
 * machines that use time meeting a wall clock that jumps.
 *
 *   npm run torture -- --only faults [--long]
 *
 * - network: 30 % packet loss (nftables, every node) and link flaps during discovery, a batch of
 *   invitations and a session; every invitation must end in a defined state that both sides agree on
 *   once the network heals; members get every message in order (catch-up) or report the host lost.
 * - host crash: kill -9 of a session's host; members report it lost; the restarted host finds its
 *   session and invitations in their stored state, members attach again, messages go on.
 * - disk full: a hub whose data directory is a small tmpfs, filled; writes answer PH_ERR_STORE_WRITE,
 *   nothing stored is lost or corrupted, writes work again once space is freed, the agent keeps running.
 * - clock jumps: whole agents in this process (the wall clock cannot be faked per namespace: time
 *   namespaces shift only the monotonic clocks) with an injected clock that jumps +1 day, −1 day and to
 *   1970 while the timers keep running on the monotonic clock, as on a real hub when NTP steps the time.
 *
 * Each scenario returns rows with figures and the list of problems found (empty: pass). The CI subset
 * (test/torture/faults-*.test.ts) runs the same scenarios with small bounds and asserts no problems.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLab, labSkipReason, waitFor, type Hub, type Lab, type Teardown } from '../lab/harness.js';
import type { InvitationRow, InviteResult, SessionDetailRow, SessionMessageRow } from '../lab/hub.js';
import { dropped, flap, flapper, mountTmpfs, setLoss, type Tmpfs } from '../lab/faults.js';
import type { TortureOptions, TorturePart, TortureReport, TortureRow } from './types.js';
import { systemClock, type Clock } from '../../firmware/core/clock.js';
import { INVITATIONS_DEFAULTS } from '../../firmware/collab/invitations.js';
import { POLICY_DEFAULTS } from '../../firmware/collab/policy.js';

export interface FaultRow extends TortureRow {
  problems: string[];
}

export interface NetConfig {
  hubs: number; // host + invitees (≥ 3)
  lossPct: number;
  rounds: number; // invitation batches (each: one new session, every invitee invited)
  expiresS: number; // invitation lifetime
  flapDownMs: number;
  flapUpMs: number;
  messages: number; // session messages sent by the host (members send a third as many each)
  timeoutMs: number; // generous deadline for each convergence
}

export const NET_CI: NetConfig = {
  hubs: 4,
  lossPct: 30,
  rounds: 2,
  expiresS: 15,
  flapDownMs: 3_000,
  flapUpMs: 3_000,
  messages: 9,
  timeoutMs: 90_000,
};
export const NET_LONG: NetConfig = {
  hubs: 8,
  lossPct: 30,
  rounds: 6,
  expiresS: 30,
  flapDownMs: 4_000,
  flapUpMs: 3_000,
  messages: 60,
  timeoutMs: 120_000,
};

type Log = (line: string) => void;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number): number => Math.round(ms / 100) / 10;
const row = (name: string, figures: FaultRow['figures'], problems: string[], pass: string): FaultRow => ({
  name,
  result: problems.length === 0 ? 'pass' : 'fail',
  figures,
  detail: problems.length === 0 ? pass : problems.slice(0, 5).join('; ').slice(0, 800),
  problems,
});

/** Run `fn`, turning a throw into a problem (a scenario reports, never aborts the rest). */
async function attempt<T>(problems: string[], what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    problems.push(`${what}: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

// ── network: discovery, invitations, sessions under loss and flaps; then the host crash ──────────────

/**
 * One lab of `cfg.hubs` hubs: node 0 is the host H, the others invitees. Rows: discovery, status
 * change, invitations, session, host crash.
 */
export async function networkFaults(t: Teardown, cfg: NetConfig, log: Log): Promise<FaultRow[]> {
  const rows: FaultRow[] = [];
  const lab = await createLab(t, { hubs: cfg.hubs });
  const all = [...Array(cfg.hubs).keys()];
  for (const i of all) await setLoss(lab, i, cfg.lossPct);
  log(`network: ${cfg.hubs} hubs, ${cfg.lossPct} % loss on every node`);

  // ---- discovery ----
  const disc: string[] = [];
  const t0 = performance.now();
  const started = await attempt(disc, 'start the hubs', () =>
    Promise.all(
      all.map((i) =>
        lab.startHub(i, {
          nickname: i === 0 ? 'Host' : `Guest${i}`,
          logLevel: 'info',
          readyTimeout: 120_000,
        }),
      ),
    ),
  );
  if (!started) return [row(`discovery: ${cfg.hubs} hubs, ${cfg.lossPct} % loss, link flaps`, {}, disc, '')];
  const hubs = started;
  const ids = await Promise.all(hubs.map(async (h) => (await h.status()).id));
  const startedS = secs(performance.now() - t0);
  const tReady = performance.now(); // convergence is counted from every agent answering
  const flaps = flapper(lab, [cfg.hubs - 1], { downMs: cfg.flapDownMs, upMs: cfg.flapUpMs, maxFlaps: 2 });
  const sees = async (h: Hub, pred: (p: { id: string | null; verified?: boolean }) => boolean) =>
    (await h.peers()).filter(pred).length;
  const others = cfg.hubs - 1;
  const converge = await attempt(disc, 'every hub lists every other hub', () =>
    Promise.all(
      hubs.map((h) =>
        waitFor(
          async () => (await sees(h, (p) => ids.includes(p.id ?? '') && p.id !== ids[h.index])) === others,
          { timeout: cfg.timeoutMs, interval: 500, message: `hub ${h.index} lists all ${others} others` },
        ).then(() => performance.now() - tReady),
      ),
    ),
  );
  const flapsDone = await flaps.done;
  const verified = await attempt(disc, 'every hub verified every other hub', () =>
    Promise.all(
      hubs.map((h) =>
        waitFor(
          async () => (await sees(h, (p) => p.verified === true && ids.includes(p.id ?? ''))) === others,
          {
            timeout: cfg.timeoutMs,
            interval: 500,
            message: `hub ${h.index} verified all ${others} others`,
          },
        ).then(() => performance.now() - tReady),
      ),
    ),
  );
  const tc = performance.now();
  await attempt(disc, 'presence set under loss', () => hubs[1]!.setPresence('Busy', 'lossy'));
  const changeSeen = await attempt(disc, 'a status change reaches every hub', () =>
    Promise.all(
      hubs
        .filter((h) => h.index !== 1)
        .map((h) =>
          h.waitPeer((p) => p.id === ids[1] && p.status === 'Busy', {
            timeout: cfg.timeoutMs,
            interval: 500,
          }),
        ),
    ).then(() => performance.now() - tc),
  );
  const drops = (await Promise.all(all.map((i) => dropped(lab, i)))).reduce((a, b) => a + b, 0);
  rows.push(
    row(
      `discovery: ${cfg.hubs} hubs, ${cfg.lossPct} % loss, link flaps`,
      {
        hubs: cfg.hubs,
        lossPct: cfg.lossPct,
        flaps: flapsDone,
        agentsStartedS: startedS,
        allListedS: converge ? secs(Math.max(...converge)) : 'no',
        allVerifiedS: verified ? secs(Math.max(...verified)) : 'no',
        statusChangeSeenS: changeSeen !== undefined ? secs(changeSeen) : 'no',
        packetsDropped: drops,
      },
      disc,
      'every hub listed and verified every other one, and saw a status change, under loss and flaps',
    ),
  );
  log(`network: discovery ${JSON.stringify(rows.at(-1)?.figures)}`);

  // ---- invitations ----
  rows.push(await invitationsUnderFaults(lab, hubs, ids, cfg, log));
  log(`network: invitations ${JSON.stringify(rows.at(-1)?.figures)}`);

  // ---- a session ----
  const session = await sessionUnderFaults(lab, hubs, ids, cfg, log);
  rows.push(session.row);
  log(`network: session ${JSON.stringify(session.row.figures)}`);

  // ---- host crash ----
  rows.push(await hostCrash(lab, hubs, ids, session.sid, cfg, log));
  log(`network: host crash ${JSON.stringify(rows.at(-1)?.figures)}`);
  return rows;
}

type Choice = 'accept' | 'decline' | 'ignore';

/** A batch of invitations under loss and flaps, answered by the invitees' owners; then the network heals. */
async function invitationsUnderFaults(
  lab: Lab,
  hubs: Hub[],
  ids: string[],
  cfg: NetConfig,
  log: Log,
): Promise<FaultRow> {
  const problems: string[] = [];
  const [H, ...guests] = hubs as [Hub, ...Hub[]];
  for (const g of guests)
    await attempt(problems, `policy on hub ${g.index}`, () =>
      g.setPolicy(['--invite', 'nearby', '--minutes', '60']),
    );

  const sent = new Map<string, InvitationRow>(); // by invitation id (host's view at send)
  const choices = new Map<string, Choice>();
  const answerErrors: string[] = [];
  let inviteRefused = 0;
  let stop = false;
  const answered = new Map<number, number>();

  // The invitees' owners: answer what arrives — accept, decline, or leave it to expire, in turn.
  const answerers = guests.map(async (g) => {
    let n = 0;
    const seen = new Set<string>();
    while (!stop) {
      const pending = await g.invitations({ direction: 'in', state: 'pending' }).catch(() => []);
      for (const i of pending) {
        if (seen.has(i.id)) continue;
        seen.add(i.id);
        const choice: Choice = (['accept', 'decline', 'ignore'] as const)[n++ % 3] as Choice;
        choices.set(i.id, choice);
        if (choice === 'ignore') continue;
        const r = await g.cli([choice, i.id, '--json'], 90_000);
        answered.set(g.index, (answered.get(g.index) ?? 0) + 1);
        if (r.code !== 0)
          answerErrors.push(`${choice} ${i.id.slice(0, 7)} on hub ${g.index}: ${r.stderr.trim()}`);
      }
      await sleep(400);
    }
  });

  // Flaps of every invitee in turn while the batches go out and are answered.
  const flaps = flapper(
    lab,
    guests.map((g) => g.index),
    { downMs: cfg.flapDownMs, upMs: cfg.flapUpMs, maxFlaps: 1000 },
  );
  const tSend = performance.now();
  for (let r = 0; r < cfg.rounds; r++) {
    const res = await H.cli(['invite', ...ids.slice(1), '--expires', String(cfg.expiresS), '--json'], 60_000);
    if (res.code !== 0) {
      inviteRefused++;
      problems.push(`invite round ${r}: exit ${res.code}: ${res.stderr.trim()}`);
      continue;
    }
    for (const i of res.json<InviteResult>().invitations) sent.set(i.id, i);
    await sleep(cfg.expiresS * 250);
  }
  // One invitee away for a whole lifetime: its invitations can only expire (never delivered).
  const away = guests.at(-1) as Hub;
  flaps.stop();
  const flapsDone = await flaps.done;
  await lab.linkDown(away.index);
  const res = await H.cli(['invite', ids[away.index] as string, '--expires', '5', '--json'], 60_000);
  if (res.code === 0) for (const i of res.json<InviteResult>().invitations) sent.set(i.id, i);
  else problems.push(`invite of the unplugged hub: exit ${res.code}: ${res.stderr.trim()}`);
  await sleep(7_000);
  await lab.linkUp(away.index);

  // Let answers run until the last invitation's lifetime is over, then heal the network.
  const lastExpiry = Math.max(...[...sent.values()].map((i) => i.expiresAt ?? 0));
  await sleep(Math.max(0, lastExpiry - Date.now()) + 1_000);
  stop = true;
  await Promise.all(answerers);
  for (const i of hubs.keys()) await setLoss(lab, i, 0);
  const healedAt = performance.now();
  log(`invitations: ${sent.size} sent in ${secs(healedAt - tSend)} s; network healed, settling`);

  // Settled: nothing pending on either side, no answer still being delivered.
  const view = async () => {
    const host = new Map((await H.invitations({ direction: 'out' })).map((i) => [i.id, i]));
    const guest = new Map<string, InvitationRow>();
    for (const g of guests) for (const i of await g.invitations({ direction: 'in' })) guest.set(i.id, i);
    return { host, guest };
  };
  const unsettled = (v: Awaited<ReturnType<typeof view>>): string[] => {
    const open: string[] = [];
    for (const id of sent.keys()) {
      const h = v.host.get(id);
      const g = v.guest.get(id);
      if (!h || h.state === 'pending' || h.delivery === 'sending')
        open.push(`H:${id.slice(0, 7)}:${h?.state}`);
      if (g && (g.state === 'pending' || g.delivery === 'sending'))
        open.push(`G:${id.slice(0, 7)}:${g.state}/${g.delivery}`);
    }
    return open;
  };
  // The answer grace (30 s) bounds how long an undelivered answer is still tried.
  const settle = await attempt(problems, 'every invitation settled on both sides after healing', () =>
    waitFor(async () => unsettled(await view()).length === 0, {
      timeout: 30_000 + cfg.timeoutMs,
      interval: 1_000,
      message: 'no invitation pending or sending',
    }).then(() => performance.now() - healedAt),
  );
  const final = await view();
  const counts: Record<string, number> = { accepted: 0, declined: 0, expired: 0, cancelled: 0, failed: 0 };
  let lost = 0;
  let notReceived = 0;
  let agree = 0;
  let documented = 0;
  for (const [id, s] of sent) {
    const h = final.host.get(id);
    const g = final.guest.get(id);
    const tag = `${id.slice(0, 7)} (to hub ${ids.indexOf(s.peer)}, ${choices.get(id) ?? 'never seen'})`;
    if (!h || h.state === 'pending') {
      lost++;
      problems.push(`${tag}: host ${h ? 'still pending' : 'lost it'}`);
      continue;
    }
    counts[h.state] = (counts[h.state] ?? 0) + 1;
    if (!g) {
      // Never reached the invitee: the host must say so (expired or failed, undeliverable).
      if ((h.state === 'expired' || h.state === 'failed') && h.delivery === 'undeliverable') notReceived++;
      else {
        lost++;
        problems.push(`${tag}: host ${h.state}/${h.delivery} but the invitee has no such invitation`);
      }
      continue;
    }
    if (g.state === 'pending') {
      lost++;
      problems.push(`${tag}: invitee still pending`);
    } else if (g.state === h.state) agree++;
    else if (g.state === 'failed' && ['accepted', 'declined', 'expired'].includes(h.state)) {
      documented++; // the one disagreement the machine documents: the answer's confirmation was lost
    } else problems.push(`${tag}: host ${h.state}, invitee ${g.state} (${g.reason ?? ''})`);
    if (['expired', 'failed'].includes(h.state) && !h.reason)
      problems.push(`${tag}: ${h.state} without a reason`);
  }
  for (const e of answerErrors) {
    // An answer refused because the invitation had just expired or was already closed is a defined
    // outcome told to the owner; anything else is not.
    if (!/expired|already|no longer pending|closed/i.test(e)) problems.push(`answer: ${e}`);
  }
  return row(
    `invitations: ${cfg.lossPct} % loss and link flaps, ${cfg.rounds} batches to ${guests.length} hubs`,
    {
      sent: sent.size,
      ...counts,
      notReceivedUndeliverable: notReceived,
      agreeBothSides: agree,
      invitee_failed_host_final: documented,
      lost,
      inviteRefused,
      answersGiven: [...answered.values()].reduce((a, b) => a + b, 0),
      answersRefused: answerErrors.length,
      flaps: flapsDone,
      settledAfterHealS: settle !== undefined ? secs(settle) : 'no',
    },
    problems,
    'every invitation ended accepted, declined, expired or failed (with a reason) and both sides agree',
  );
}

/**
 * H hosts a session with two members (joined on a healthy network); then loss everywhere, a member's
 * cable out while H sends, H's cable out, members sending too. Healed: every member has H's log.
 */
async function sessionUnderFaults(
  lab: Lab,
  hubs: Hub[],
  ids: string[],
  cfg: NetConfig,
  log: Log,
): Promise<{ row: FaultRow; sid: string | undefined }> {
  const problems: string[] = [];
  const [H, m1, m2] = hubs as [Hub, Hub, Hub];
  const members = [m1, m2];
  const inv = await attempt(problems, 'invite the members', async () => {
    const r = await H.cli(
      ['invite', ids[1] as string, ids[2] as string, '--expires', '600', '--json'],
      60_000,
    );
    if (r.code !== 0) throw new Error(r.stderr.trim());
    return r.json<InviteResult>();
  });
  const sid = inv?.session;
  if (!inv || !sid) return { row: row('session: loss and link flaps', {}, problems, ''), sid };
  for (const m of members) {
    await attempt(problems, `hub ${m.index} accepts`, async () => {
      const i = await m.waitInvitation(
        (x) => x.session === sid && x.state === 'pending',
        { direction: 'in' },
        { timeout: 30_000 },
      );
      const r = await m.cli(['accept', i.id, '--json'], 90_000);
      if (r.code !== 0) throw new Error(r.stderr.trim());
      await waitFor(async () => (await m.sessions()).some((s) => s.id === sid && s.state === 'joined'), {
        timeout: 30_000,
        message: `hub ${m.index} joined`,
      });
    });
  }
  const watches = members.map((m) => m.watch());
  await sleep(500);
  for (const i of hubs.keys()) await setLoss(lab, i, cfg.lossPct);

  let sendErrors = 0;
  let sentCount = 0;
  const send = async (h: Hub, text: string): Promise<void> => {
    const r = await h.cli(['session', 'send', sid, text], 60_000);
    if (r.code === 0) sentCount++;
    else {
      sendErrors++;
      // A member told its message could not reach the host is a defined outcome; the host's own fails are not.
      if (h === H) problems.push(`host send "${text}": ${r.stderr.trim()}`);
    }
  };
  const third = Math.max(1, Math.floor(cfg.messages / 3));
  const tStart = performance.now();
  // Phase 1: member 1 unplugged while the host sends (it must catch up).
  const f1 = flap(lab, m1.index, cfg.flapDownMs * 2);
  for (let k = 0; k < third; k++) await send(H, `h${k}`);
  await f1;
  for (const [j, m] of members.entries()) await send(m, `m${j + 1}-a`);
  // Phase 2: the host unplugged (members may report it lost, then must resume).
  const f2 = flap(lab, H.index, cfg.flapDownMs * 3);
  await sleep(cfg.flapDownMs);
  await f2;
  for (let k = third; k < cfg.messages; k++) await send(H, `h${k}`);
  for (const [j, m] of members.entries()) await send(m, `m${j + 1}-b`);
  for (const i of hubs.keys()) await setLoss(lab, i, 0);
  const healed = performance.now();
  log(`session: fault phase over after ${secs(healed - tStart)} s (${sendErrors} send errors); healed`);

  const keyOf = (x: SessionMessageRow): string => `${x.seq}:${x.from.slice(0, 6)}:${x.text}`;
  const lastSeqOf = (log: { messages: SessionMessageRow[] } | undefined): number =>
    Math.max(0, ...(log?.messages ?? []).map((m) => m.seq));
  /** Every member joined and holding message `seq`; resolves to the ms since the network healed. */
  const membersHave = (seq: number): Promise<number[]> =>
    Promise.all(
      members.map((m) =>
        m
          .waitSession(sid, (s) => s.state === 'joined' && s.messages.some((x) => x.seq === seq), {
            timeout: cfg.timeoutMs,
            interval: 1_000,
          })
          .then(() => performance.now() - healed),
      ),
    );
  const hostLog = await attempt(problems, 'the host log', () => H.session(sid));
  const lastSeq = lastSeqOf(hostLog);
  let missing = 0;
  let outOfOrder = 0;
  const caughtUp = await attempt(problems, 'every member has the host’s log, joined', () =>
    membersHave(lastSeq),
  );
  // A member's send reported failed under loss (its answer lost, or the CLI's time-out passed) may still
  // reach the host after the read above: compare the members with the host's log as it ends up, once
  // they have its last message too.
  const finalLog = await attempt(problems, 'the host log, once settled', () => H.session(sid));
  const finalMsgs = (finalLog?.messages ?? []).map(keyOf);
  const finalSeq = lastSeqOf(finalLog);
  if (finalSeq > lastSeq)
    await attempt(problems, 'every member has the host’s final log', () => membersHave(finalSeq));
  for (const m of members) {
    const s = await m.session(sid).catch(() => null);
    const got = (s?.messages ?? []).map(keyOf);
    const seqs = (s?.messages ?? []).map((x) => x.seq);
    if (seqs.some((q, i) => i > 0 && q <= (seqs[i - 1] as number))) {
      outOfOrder++;
      problems.push(`hub ${m.index}: messages out of order ${JSON.stringify(seqs)}`);
    }
    const miss = finalMsgs.filter((x) => !got.includes(x));
    missing += miss.length;
    if (miss.length > 0 || got.length !== finalMsgs.length)
      problems.push(`hub ${m.index}: ${miss.length} of ${finalMsgs.length} missing, ${got.length} listed`);
  }
  const hostLost = watches.map((w) => w.records.filter((r) => r.value.type === 'session:host-lost').length);
  for (const w of watches) await w.stop('SIGTERM', 3_000);
  return {
    sid,
    row: row(
      `session: ${cfg.lossPct} % loss, a member's then the host's cable out`,
      {
        members: members.length,
        messagesSent: sentCount,
        sendErrorsReported: sendErrors,
        hostLog: finalMsgs.length,
        missing,
        outOfOrder,
        hostLostReported: hostLost.reduce((a, b) => a + b, 0),
        caughtUpAfterHealS: caughtUp ? secs(Math.max(...caughtUp)) : 'no',
        faultPhaseS: secs(healed - tStart),
      },
      problems,
      'members hold the host’s log in order after the flaps (catch-up), or were told the host was lost',
    ),
  };
}

/** kill -9 of the host mid-session; members report it lost; restarted, it finds its state. */
async function hostCrash(
  lab: Lab,
  hubs: Hub[],
  ids: string[],
  sid: string | undefined,
  cfg: NetConfig,
  log: Log,
): Promise<FaultRow> {
  const problems: string[] = [];
  const [H, m1, m2, g3] = hubs as [Hub, Hub, Hub, Hub | undefined];
  if (!sid) return row('host crash mid-session', {}, ['no session from the previous step'], '');
  const members = [m1, m2];
  // A pending invitation the crash must not lose (to the hub that is not a member, or member 1).
  const target = g3 ?? m1;
  const pend = await attempt(problems, 'a pending invitation', async () => {
    const r = await H.cli(['invite', ids[target.index] as string, '--expires', '900', '--json'], 60_000);
    if (r.code !== 0) throw new Error(r.stderr.trim());
    const i = r.json<InviteResult>().invitations[0] as InvitationRow;
    await target.waitInvitation((x) => x.id === i.id, { direction: 'in' }, { timeout: 30_000 });
    return i;
  });
  const before = await attempt(problems, 'the host before', () => H.session(sid));
  const tKill = performance.now();
  await H.kill();
  // Polled (a watch started just before could miss the event while the CLI is still starting).
  const lostAfter = await attempt(problems, 'members report the host lost', () =>
    Promise.all(
      members.map((m) =>
        waitFor(async () => (await m.sessions()).some((s) => s.id === sid && s.state === 'host-lost'), {
          timeout: 60_000,
          interval: 250,
          message: `hub ${m.index}: session host-lost`,
        }).then(() => performance.now() - tKill),
      ),
    ),
  );
  for (const m of members) {
    const s = (await m.sessions().catch(() => [])).find((x) => x.id === sid);
    if (s?.state !== 'host-lost')
      problems.push(`hub ${m.index}: session ${s?.state ?? 'missing'} after the crash`);
  }
  const tRestart = performance.now();
  await attempt(problems, 'the host restarts', () =>
    lab.startHub(0, { nickname: 'Host', logLevel: 'info', readyTimeout: 120_000 }),
  );
  const H2 = lab.hub(0);
  const after = await attempt(problems, 'the restarted host lists the session', () => H2.session(sid));
  if (after) {
    if (after.state !== 'open') problems.push(`restarted host: session ${after.state}`);
    const want = (before?.members ?? []).map((m) => m.id).sort();
    const got = after.members.map((m) => m.id).sort();
    if (JSON.stringify(want) !== JSON.stringify(got))
      problems.push(`roster ${JSON.stringify(got)} after restart, ${JSON.stringify(want)} before`);
  }
  if (pend) {
    const h = (await H2.invitations({ direction: 'out' }).catch(() => [])).find((x) => x.id === pend.id);
    if (h?.state !== 'pending' || h.expiresAt !== pend.expiresAt)
      problems.push(`pending invitation after restart: ${h?.state ?? 'missing'}, expiresAt ${h?.expiresAt}`);
  }
  const back = await attempt(problems, 'members attach again (joined)', () =>
    Promise.all(
      members.map((m) =>
        waitFor(async () => (await m.sessions()).some((s) => s.id === sid && s.state === 'joined'), {
          timeout: cfg.timeoutMs,
          interval: 1_000,
          message: `hub ${m.index} joined again`,
        }).then(() => performance.now() - tRestart),
      ),
    ),
  );
  const prevSeq = Math.max(0, ...(before?.messages ?? []).map((m: SessionMessageRow) => m.seq));
  const r = await H2.cli(['session', 'send', sid, 'after the crash', '--json'], 30_000);
  if (r.code !== 0) problems.push(`send after restart: ${r.stderr.trim()}`);
  const seq = r.code === 0 ? r.json<{ seq: number }>().seq : NaN;
  if (!(seq > prevSeq)) problems.push(`seq after restart ${seq}, before ${prevSeq}`);
  await attempt(problems, 'members get the message sent after the restart', () =>
    Promise.all(
      members.map((m) =>
        m.waitSession(sid, (s: SessionDetailRow) => s.messages.some((x) => x.text === 'after the crash'), {
          timeout: cfg.timeoutMs,
          interval: 1_000,
        }),
      ),
    ),
  );
  log(`host crash: members lost ${JSON.stringify(lostAfter?.map(Math.round))} ms`);
  return row(
    'host crash (kill -9) mid-session',
    {
      members: members.length,
      hostLostReportedMaxMs: lostAfter ? Math.round(Math.max(...lostAfter)) : 'no',
      sessionAfterRestart: after?.state ?? 'missing',
      pendingInvitationAfterRestart: pend ? 'pending' : 'n/a',
      membersJoinedAgainS: back ? secs(Math.max(...back)) : 'no',
      seqBefore: prevSeq,
      seqAfter: Number.isNaN(seq) ? 'none' : seq,
    },
    problems,
    'members reported the host lost; the restarted host had its session, roster and pending invitation; members attached again',
  );
}

// ── disk full ───────────────────────────────────────────────────────────────────────────────────────

export interface DiskConfig {
  sizeKB: number;
  writes: number; // attempts of each kind while full
}
export const DISK_CI: DiskConfig = { sizeKB: 2048, writes: 3 };
export const DISK_LONG: DiskConfig = { sizeKB: 2048, writes: 20 };

/**
 * Hub 0's data directory is a small tmpfs; hub 1 is a peer to add and invite. Fill the tmpfs, then:
 * contacts add, presence set, an invitation sent, one received; check the answers, the stored files,
 * the agent; free the space and write again; restart and compare.
 */
export async function diskFull(t: Teardown, cfg: DiskConfig, log: Log): Promise<FaultRow[]> {
  const problems: string[] = [];
  const lab = await createLab(t, { hubs: 2 });
  const dataDir = join(lab.node(0).dir, 'hub', 'data');
  const disk = await mountTmpfs(t, dataDir, cfg.sizeKB);
  try {
    return await diskFullOn(lab, disk, dataDir, cfg, log, problems);
  } catch (e) {
    problems.push(`aborted: ${(e as Error).message.split('\n')[0]}`);
    return [row(`disk full (${cfg.sizeKB} kB tmpfs) during store writes`, {}, problems, '')];
  }
}

async function diskFullOn(
  lab: Lab,
  disk: Tmpfs,
  dataDir: string,
  cfg: DiskConfig,
  log: Log,
  problems: string[],
): Promise<FaultRow[]> {
  const [A, B] = await Promise.all([
    lab.startHub(0, { nickname: 'Full', logLevel: 'info', readyTimeout: 120_000 }),
    lab.startHub(1, { nickname: 'Peer', logLevel: 'info', readyTimeout: 120_000 }),
  ]);
  const [sa, sb] = await Promise.all([A.status(), B.status()]);
  await A.waitPeer((p) => p.id === sb.id && p.verified === true, { timeout: 60_000 });
  await B.waitPeer((p) => p.id === sa.id && p.verified === true, { timeout: 60_000 });
  for (const h of [A, B]) await h.setPolicy(['--invite', 'nearby', '--minutes', '60']);
  // Something stored before the disk fills: presence, one contact (B), an invitation each way.
  await A.setPresence('Away', 'before the disk filled');
  const add = await A.contactsCli(['add-nearby', sb.id, '--json']);
  if (add.code !== 0) problems.push(`contacts add-nearby before: ${add.stderr.trim()}`);
  const early = await A.cli(['invite', sb.id, '--expires', '900', '--json'], 60_000);
  const earlyId = early.code === 0 ? early.json<InviteResult>().invitations[0]?.id : undefined;
  const earlySession = early.code === 0 ? early.json<InviteResult>().session : undefined;
  if (!earlyId) problems.push(`invite before: ${early.stderr.trim()}`);
  const sentWhileFull: string[] = [];
  const receivedWhileFull: string[] = [];
  let lastOut = earlyId;
  const snapshot = async () => ({
    status: await A.status(),
    contacts: (await A.contacts()).map((c) => c.id).sort(),
    invitations: (await A.invitations()).map((i) => `${i.id}:${i.state}`).sort(),
    expiries: new Map((await A.invitations()).map((i) => [i.id, i.expiresAt ?? 0])),
    policy: await A.policy(),
  });
  await sleep(1_000); // the non-blocking invitation write lands
  const before = await snapshot();

  const filled = disk.fill();
  log(
    `disk: ${cfg.sizeKB} kB tmpfs filled (${Math.round(filled / 1024)} kB filler), ${disk.freeBytes()} bytes free`,
  );
  const codes = new Map<string, number>();
  const refused = (what: string, r: { code: number | null; stderr: string }): void => {
    const code = r.code === 0 ? 'accepted' : /ENOSPC|no space/i.test(r.stderr) ? 'ENOSPC' : r.stderr.trim();
    codes.set(`${what}: ${code}`, (codes.get(`${what}: ${code}`) ?? 0) + 1);
  };
  const pid = A.pid;
  for (let k = 0; k < cfg.writes; k++) {
    const p = await A.cli(['presence', 'set', 'Busy', `full ${k}`]);
    refused('presence set', p);
    if (p.code === 0) problems.push('presence set accepted with the disk full');
    const c = await A.cli(['policy', 'set', '--invite', k % 2 ? 'contacts' : 'nobody']);
    refused('policy set', c);
    const rm = await A.contactsCli(['remove', sb.id]);
    refused('contacts remove', rm);
    if (rm.code === 0) problems.push('contacts remove accepted with the disk full');
    // A new session is a host-store write: refused. Into a session that exists, the invitation is
    // created in memory and sent at once; its write is retried until space is back.
    const inv = await A.cli(['invite', sb.id, '--expires', '60', '--json'], 60_000);
    refused('invite (new session)', inv);
    if (earlySession && lastOut) {
      const c = await A.cli(['cancel', lastOut, '--json'], 60_000);
      refused('cancel (existing session)', c);
      const inv2 = await A.cli(
        ['invite', sb.id, '--session', earlySession, '--expires', '900', '--json'],
        60_000,
      );
      refused('invite (existing session)', inv2);
      const id = inv2.code === 0 ? inv2.json<InviteResult>().invitations[0]?.id : undefined;
      if (id && id !== lastOut) sentWhileFull.push(id);
      lastOut = id ?? lastOut;
    }
    // Received: refused while it cannot be stored (the sender retries until its expiry).
    const inB = await B.cli(['invite', sa.id, '--expires', '900', '--json'], 60_000);
    if (inB.code === 0) receivedWhileFull.push(...inB.json<InviteResult>().invitations.map((i) => i.id));
    else problems.push(`B's invite to the full hub: ${inB.stderr.trim()}`);
  }
  await sleep(2_000);
  const heldWhileFull = (await A.invitations({ direction: 'in' })).filter((i) =>
    receivedWhileFull.includes(i.id),
  ).length;
  if (heldWhileFull > 0)
    problems.push(`${heldWhileFull} invitation(s) acknowledged while they could not be stored`);
  // The API's error body (the CLI prints its message only).
  const { call } = await import('../../firmware/cli/client.js');
  const apiErr = await call(A.socket, 'PUT', '/v1/presence', { status: 'Busy' }).then(
    () => null,
    (e: { code?: string; statusCode?: number; message: string }) => e,
  );
  if (apiErr?.code !== 'PH_ERR_STORE_WRITE')
    problems.push(`PUT /v1/presence with the disk full: ${JSON.stringify(apiErr)}`);
  const alive = A.running && A.pid === pid && (await A.cli(['status', '--json'])).code === 0;
  if (!alive) problems.push('the agent stopped answering with the disk full');
  const during = await snapshot();
  if (during.status.presence.status !== 'Away')
    problems.push(`presence ${during.status.presence.status} while full (refused writes must not change it)`);
  if (JSON.stringify(during.contacts) !== JSON.stringify(before.contacts))
    problems.push('contacts changed while full');

  disk.free();
  const afterFree: string[] = [];
  // The full hub takes one inviter's invitations at its policy's rate (bursts of 5, then 10 a minute)
  // and B retries each refused one on its back-off (up to 30 s): 20 invitations waiting need ≈ 2 min.
  const beyondBurst = Math.max(0, receivedWhileFull.length - POLICY_DEFAULTS.burst);
  const settleMs =
    90_000 + Math.ceil((beyondBurst / POLICY_DEFAULTS.perMinute) * 60_000) + INVITATIONS_DEFAULTS.retry.maxMs;
  // What B sent while A was full arrives once there is space (B retries), or B says why not.
  const delivered = await attempt(
    problems,
    'invitations sent to the full hub arrive once space is back',
    () =>
      waitFor(
        async () => {
          const inA = new Set((await A.invitations({ direction: 'in' })).map((i) => i.id));
          const onB = new Map((await B.invitations({ direction: 'out' })).map((i) => [i.id, i]));
          const open = receivedWhileFull.filter((id) => !inA.has(id) && onB.get(id)?.state === 'pending');
          return open.length === 0 ? receivedWhileFull.filter((id) => inA.has(id)).length + 1 : null;
        },
        { timeout: settleMs, interval: 1_000, message: 'no invitation to the full hub left unsettled' },
      ).then((n) => n - 1),
  );
  const p = await A.cli(['presence', 'set', 'Busy', 'space again']);
  if (p.code !== 0) afterFree.push(`presence set: ${p.stderr.trim()}`);
  const inv2 = await A.cli(['invite', sb.id, '--expires', '900', '--json'], 60_000);
  const inv2Id = inv2.code === 0 ? inv2.json<InviteResult>().invitations[0]?.id : undefined;
  if (!inv2Id) afterFree.push(`invite: ${inv2.stderr.trim()}`);
  const pol = await A.cli(['policy', 'set', '--invite', 'nearby', '--minutes', '60']);
  if (pol.code !== 0) afterFree.push(`policy set: ${pol.stderr.trim()}`);
  problems.push(...afterFree.map((x) => `after freeing space: ${x}`));
  await sleep(1_000);
  const live = await snapshot();

  // Restart: what the agent reloads from the tmpfs is what it showed.
  await A.stop();
  await attempt(problems, 'restart after the disk was full', () =>
    lab.startHub(0, { nickname: 'Full', logLevel: 'info', readyTimeout: 120_000 }),
  );
  const A2 = lab.hub(0);
  const reloaded = await attempt(problems, 'state after restart', async () => ({
    status: await A2.status(),
    contacts: (await A2.contacts()).map((c) => c.id).sort(),
    invitations: (await A2.invitations()).map((i) => `${i.id}:${i.state}`).sort(),
  }));
  const corrupt = (await lab.exec(0, 'sh', ['-c', `ls ${dataDir} | grep -c corrupt || true`])).stdout.trim();
  if (corrupt !== '0') problems.push(`${corrupt} quarantined (corrupt) store files`);
  let lostRecords = 0;
  if (reloaded) {
    if (reloaded.status.presence.status !== 'Busy' || reloaded.status.presence.text !== 'space again')
      problems.push(`presence after restart ${JSON.stringify(reloaded.status.presence)}`);
    if (JSON.stringify(reloaded.contacts) !== JSON.stringify(before.contacts)) {
      lostRecords += before.contacts.filter((c) => !reloaded.contacts.includes(c)).length;
      problems.push(
        `contacts after restart ${JSON.stringify(reloaded.contacts)}, before ${JSON.stringify(before.contacts)}`,
      );
    }
    for (const id of [earlyId, inv2Id, ...sentWhileFull]) {
      if (id && !reloaded.invitations.some((x) => x.startsWith(`${id}:`))) {
        lostRecords++;
        problems.push(`invitation ${id.slice(0, 7)} lost by the restart`);
      }
    }
    // What the agent showed before the restart (space back) is what it reloads, state and all.
    const expiredSince = (x: string): boolean => {
      const [id, state] = x.split(':') as [string, string];
      return state === 'pending' && (live.expiries.get(id) ?? Infinity) <= Date.now();
    };
    const gone = live.invitations.filter(
      (x) =>
        !reloaded.invitations.includes(x) &&
        !(expiredSince(x) && reloaded.invitations.includes(`${x.split(':')[0]}:expired`)),
    );
    if (gone.length > 0) {
      lostRecords += gone.length;
      problems.push(`invitations shown before the restart differ after it: ${gone.join(', ')}`);
    }
  }
  return [
    row(
      `disk full (${cfg.sizeKB} kB tmpfs) during store writes`,
      {
        writesTried: cfg.writes * 5,
        ...Object.fromEntries(codes),
        apiCode: apiErr?.code ?? 'none',
        apiStatus: apiErr?.statusCode ?? 'none',
        agentKeptRunning: alive ? 'yes' : 'no',
        writesAfterFree: afterFree.length === 0 ? 'ok' : 'failed',
        invitationsSentWhileFull: sentWhileFull.length,
        invitationsToFullHub: receivedWhileFull.length,
        ackedWhileFull: heldWhileFull,
        deliveredAfterFree: delivered ?? 'no',
        storedRecordsLost: lostRecords,
        corruptFiles: Number(corrupt) || 0,
      },
      problems,
      'refused writes answer PH_ERR_STORE_WRITE and change nothing; nothing stored is lost; writes work again once space is freed',
    ),
  ];
}

// ── the part ────────────────────────────────────────────────────────────────────────────────────────

/** A Teardown for the runner (tap's runs its functions last-in first-out: so does this). */
function teardownList(): Teardown & { run(): Promise<void>; fail(): void } {
  const fns: Array<() => unknown> = [];
  let ok = true;
  return {
    teardown: (fn) => void fns.push(fn),
    passing: () => ok,
    fail: () => void (ok = false),
    async run() {
      while (fns.length > 0) await fns.pop()?.();
    },
  };
}

export const run: TorturePart = async (opts: TortureOptions): Promise<TortureReport> => {
  const started = Date.now();
  const { values } = parseArgs({
    args: opts.args,
    options: { 'faults-only': { type: 'string' } },
    strict: false,
  });
  const only = typeof values['faults-only'] === 'string' ? values['faults-only'].split(',') : null;
  const want = (x: string): boolean => !only || only.includes(x);
  const net = opts.long ? NET_LONG : NET_CI;
  const disk = opts.long ? DISK_LONG : DISK_CI;
  const clock = opts.long ? CLOCK_LONG : CLOCK_CI;
  const rows: TortureRow[] = [];
  const notes: string[] = [];
  const skip = await labSkipReason();
  if (skip) notes.push(`lab scenarios skipped: ${skip}`);
  const scenarios: Array<[string, (t: Teardown) => Promise<FaultRow[]>]> = [];
  if (!skip && want('network')) scenarios.push(['network', (t) => networkFaults(t, net, opts.log)]);
  if (!skip && want('disk')) scenarios.push(['disk', (t) => diskFull(t, disk, opts.log)]);
  if (want('clock')) scenarios.push(['clock', (t) => clockJumps(t, clock, opts.log)]);
  for (const [name, fn] of scenarios) {
    const td = teardownList();
    try {
      rows.push(...(await fn(td)));
    } catch (e) {
      td.fail();
      rows.push(row(name, {}, [`aborted: ${(e as Error).message.split('\n')[0]}`], ''));
    } finally {
      await td.run();
    }
  }
  notes.push(
    'Loss is an nftables rule in every node namespace (iifname eth0, numgen random mod 100 < P drop): no tc netem in this kernel.',
    'Clock jumps run whole agents in one process with an injected clock (wall time jumps, timers keep running on the monotonic clock): a network namespace cannot have its own wall clock and there is no faketime here.',
    'The one disagreement allowed between inviter and invitee is the documented one: the invitee marks its answer failed when the host’s confirmation never reached it.',
  );
  return {
    part: 'faults',
    title: 'Faults: loss, link flaps, host crash, disk full, clock jumps',
    date: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    config: { long: opts.long, seed: opts.seed, network: net, disk, clock, only },
    rows,
    notes,
  };
};

// ── clock jumps (whole agents in this process) ─────────────────────────────────────────────────────

export interface ClockConfig {
  timeoutMs: number;
}
export const CLOCK_CI: ClockConfig = { timeoutMs: 60_000 };
export const CLOCK_LONG: ClockConfig = { timeoutMs: 90_000 };

const DAY = 24 * 60 * 60_000;
const MAX_DELAY = 2 ** 31 - 1; // Node alone fires a longer timeout after 1 ms (systemClock waits in steps)

/**
 * A wall clock that jumps while timers keep running on the monotonic clock (what NTP stepping the time
 * does to a running agent). Counts what the agent asks of it.
 */
export function jumpClock(): Clock & {
  offset: number;
  stats: { timers: number; alreadyDue: number; overflow: number; nan: number; where: Set<string> };
} {
  const stats = { timers: 0, alreadyDue: 0, overflow: 0, nan: 0, where: new Set<string>() };
  const caller = (): string =>
    (new Error().stack ?? '')
      .split('\n')
      .slice(3)
      .find((l) => /firmware\//.test(l))
      ?.trim()
      .replace(/^at\s+/, '')
      .replace(/\(?(file:\/\/)?\/.*?\/(firmware\/[^:)]+):(\d+).*$/, '$2:$3') ?? 'unknown';
  const c = {
    offset: 0,
    stats,
    now: (): number => Date.now() + c.offset,
    setTimer: (ms: number, fn: () => void) => {
      stats.timers++;
      if (Number.isNaN(ms)) stats.nan++;
      else if (ms < 0) stats.alreadyDue++;
      else if (ms > MAX_DELAY) {
        stats.overflow++;
        stats.where.add(caller());
      }
      return systemClock.setTimer(ms, fn);
    },
  };
  return c;
}

interface InvView {
  id: string;
  state: string;
  delivery?: string;
  reason?: string;
  expiresAt?: number;
  session: string;
}

/**
 * Two whole agents (mDNS on the in-memory LAN, the peer API over real mutual TLS on 127.0.0.2/.3):
 * J's wall clock jumps +1 day, back, −1 day, back, to 1970 and back while it invites and is invited;
 * K's clock is right. Rows: one per jump, with what each side decided.
 */
export async function clockJumps(t: Teardown, cfg: ClockConfig, log: Log): Promise<FaultRow[]> {
  const { startAgent } = await import('../../firmware/agent.js');
  const { call } = await import('../../firmware/cli/client.js');
  const { loadConfig } = await import('../../firmware/config/load.js');
  const { silentLogger } = await import('../../firmware/core/logger.js');
  const { createTestLan } = await import('../../firmware/presence/index.js');
  const { createServer } = await import('node:net');
  const freePort = (): Promise<number> =>
    new Promise((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
  const lan = createTestLan({ clock: systemClock });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const start = async (nickname: string, ip: string, clock: Clock) => {
    const dir = mkdtempSync(join(tmpdir(), 'ph-faults-clock-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const port = String(await freePort());
    const config = loadConfig({ env: { HOME: dir }, flags: { data_dir: dir, nickname, port } });
    const agent = await startAgent(config, silentLogger(), { transport: lan.transport(ip), clock });
    t.teardown(() => agent.stop());
    return { agent, sock: config.control_socket, id: agent.identity.peerId };
  };
  const jc = jumpClock();
  const J = await start('Jumpy', '127.0.0.2', jc);
  const K = await start('Steady', '127.0.0.3', systemClock);
  const api = <T>(h: { sock: string }, method: string, path: string, body?: unknown) =>
    call<T>(h.sock, method, path, body, { timeoutMs: 30_000 });
  const verified = (h: { sock: string }, id: string) => async () =>
    (await api<Array<{ id: string; verified?: boolean }>>(h, 'GET', '/v1/peers')).some(
      (p) => p.id === id && p.verified,
    );
  await waitFor(verified(J, K.id), { timeout: cfg.timeoutMs, message: 'J verifies K' });
  await waitFor(verified(K, J.id), { timeout: cfg.timeoutMs, message: 'K verifies J' });
  await api(J, 'POST', '/v1/contacts/nearby', { peer: 'Steady' });
  await api(K, 'POST', '/v1/contacts/nearby', { peer: 'Jumpy' });

  const inv = (h: { sock: string }, id: string) => async () =>
    (await api<InvView[]>(h, 'GET', '/v1/invitations')).find((i) => i.id === id);
  const invite = async (from: { sock: string }, to: string, expiresS: number) =>
    (
      await api<{ session: string; invitations: InvView[] }>(from, 'POST', '/v1/invitations', {
        peers: [to],
        expiresInMs: expiresS * 1000,
      })
    ).invitations[0] as InvView;
  const arrived = (h: { sock: string }, id: string) =>
    waitFor(inv(h, id), { timeout: cfg.timeoutMs, message: `invitation ${id.slice(0, 7)} arrives` });
  /** Wait until both sides hold `id` in a final state; problems when they differ or it is not `want`. */
  const settled = async (problems: string[], what: string, id: string, want: string[]) => {
    const done = (i: InvView | undefined) => !!i && i.state !== 'pending' && i.delivery !== 'sending';
    const both = await attempt(problems, what, () =>
      waitFor(
        async () => {
          const [a, b] = await Promise.all([inv(J, id)(), inv(K, id)()]);
          return done(a) && done(b) ? [a, b] : null;
        },
        { timeout: cfg.timeoutMs, interval: 250, message: `${what}: both sides final` },
      ),
    );
    if (!both) return 'stuck';
    const [a, b] = both as [InvView, InvView];
    if (a.state !== b.state) problems.push(`${what}: J ${a.state}, K ${b.state}`);
    if (!want.includes(a.state))
      problems.push(`${what}: ${a.state} (${a.reason ?? ''}), expected ${want.join('|')}`);
    return a.state;
  };
  const stillSees = async (problems: string[], what: string): Promise<number | undefined> => {
    const t0 = performance.now();
    const ok = await attempt(problems, `${what}: J and K still see each other (verified)`, () =>
      Promise.all([
        waitFor(verified(J, K.id), { timeout: cfg.timeoutMs }),
        waitFor(verified(K, J.id), { timeout: cfg.timeoutMs }),
      ]),
    );
    return ok ? performance.now() - t0 : undefined;
  };
  const alive = async (problems: string[], what: string): Promise<void> => {
    await attempt(problems, `${what}: J answers and takes a presence change`, async () => {
      await api(J, 'PUT', '/v1/presence', { status: 'Busy', text: what });
      const st = await api<{ presence: { text: string } }>(J, 'GET', '/v1/status');
      if (st.presence.text !== what) throw new Error(`presence text ${st.presence.text}`);
    });
  };
  const rows: FaultRow[] = [];
  const figures = (extra: FaultRow['figures']) => ({ ...extra, nanTimers: jc.stats.nan });

  // +1 day with an invitation pending on each side: by J's clock both ran out. J's own one is expired
  // (K's late answer is refused with that state); the one J received is expired for J at once and for K
  // when its own expiry comes (each side decides by its own clock; they agree).
  {
    const problems: string[] = [];
    const out = await invite(J, K.id, 20);
    const inc = await invite(K, J.id, 20);
    await arrived(K, out.id);
    await arrived(J, inc.id);
    jc.offset = DAY;
    log('clock: J jumped +1 day');
    await alive(problems, '+1 day');
    const late = await api<InvView>(K, 'POST', `/v1/invitations/${out.id}/accept`).catch(
      (e: Error) => e.message,
    );
    const s1 = await settled(problems, '+1 day: J’s invitation answered late', out.id, ['expired']);
    const decline = await api<InvView>(J, 'POST', `/v1/invitations/${inc.id}/decline`).then(
      (r) => r.state,
      (e: Error) => (/already expired/.test(e.message) ? 'refused: expired' : e.message),
    );
    if (decline !== 'refused: expired') problems.push(`J declines K’s invitation a day later: ${decline}`);
    const s2 = await settled(problems, '+1 day: K’s invitation to J', inc.id, ['expired']);
    const seen = await stillSees(problems, '+1 day');
    rows.push(
      row(
        'clock jump +1 day (whole agent, injected clock)',
        figures({
          ownInvitation: s1,
          lateAnswerOnK: typeof late === 'string' ? late.slice(0, 60) : late.state,
          receivedInvitation: s2,
          declineOnJ: decline,
          peersVerifiedAgainS: seen === undefined ? 'no' : secs(seen),
        }),
        problems,
        'J answers; invitations pending across the jump are expired on both sides (by each side’s clock); peers stay verified',
      ),
    );
  }

  // Back to the right time, then −1 day right after inviting: J's expiry timer fires while J's clock says
  // a day remains; when the time is corrected the invitation must still expire (not stay pending).
  {
    const problems: string[] = [];
    jc.offset = 0;
    const out = await invite(J, K.id, 5);
    await arrived(K, out.id);
    jc.offset = -DAY;
    log('clock: J jumped to −1 day');
    await alive(problems, '−1 day');
    await sleep(7_000); // K's copy expired; J's timer fired a day "early"
    const early = (await inv(J, out.id)())?.state;
    const kState = (await inv(K, out.id)())?.state;
    jc.offset = 0;
    log('clock: J corrected to the right time');
    const tFix = performance.now();
    const s = await settled(problems, '−1 day then corrected: J’s invitation', out.id, ['expired']);
    const fixMs = performance.now() - tFix;
    const inc = await invite(K, J.id, 120);
    await arrived(J, inc.id);
    jc.offset = -DAY;
    await api(J, 'POST', `/v1/invitations/${inc.id}/accept`).catch((e: Error) =>
      problems.push(`accept at −1 day: ${e.message}`),
    );
    const s2 = await settled(problems, '−1 day: J accepts K’s invitation', inc.id, ['accepted']);
    const seen = await stillSees(problems, '−1 day');
    jc.offset = 0;
    rows.push(
      row(
        'clock jump −1 day (whole agent, injected clock)',
        figures({
          whileBehind: `${early}/K ${kState}`,
          afterCorrection: s,
          expiredAfterCorrectionS: secs(fixMs),
          acceptedWhileBehind: s2,
          peersVerifiedAgainS: seen === undefined ? 'no' : secs(seen),
        }),
        problems,
        'an invitation J sent expires once its clock is corrected (no timer left waiting a day); accepting while behind works',
      ),
    );
  }

  // 1970 (a Pi without RTC before NTP), then back.
  {
    const problems: string[] = [];
    jc.offset = -(Date.now() - Date.UTC(1970, 0, 2));
    log('clock: J jumped to 1970');
    await alive(problems, '1970');
    const out = await invite(J, K.id, 120);
    await arrived(K, out.id);
    await api(K, 'POST', `/v1/invitations/${out.id}/decline`).catch((e: Error) =>
      problems.push(`K declines: ${e.message}`),
    );
    const s1 = await settled(problems, '1970: J’s invitation declined by K', out.id, ['declined']);
    const inc = await invite(K, J.id, 120);
    await arrived(J, inc.id);
    const acc = await api<{ state: string; joined?: boolean; joinError?: string }>(
      J,
      'POST',
      `/v1/invitations/${inc.id}/accept`,
    ).catch((e: Error) => ({ state: 'error', joined: false, joinError: e.message }));
    const s2 = await settled(problems, '1970: J accepts K’s invitation', inc.id, ['accepted']);
    const seen = await stillSees(problems, '1970');
    jc.offset = 0;
    log('clock: J back to the right time');
    const back = await stillSees(problems, 'back from 1970');
    await alive(problems, 'back from 1970');
    const last = await invite(J, K.id, 120);
    await arrived(K, last.id);
    await api(K, 'POST', `/v1/invitations/${last.id}/accept`).catch((e: Error) =>
      problems.push(`K accepts: ${e.message}`),
    );
    const s3 = await settled(problems, 'back from 1970: K accepts J’s invitation', last.id, ['accepted']);
    rows.push(
      row(
        'clock jump to 1970 and back (whole agent, injected clock)',
        figures({
          declinedIn1970: s1,
          acceptedIn1970: s2,
          joinedIn1970:
            acc.joined === true ? 'yes' : `no${acc.joinError ? ` (${acc.joinError.slice(0, 80)})` : ''}`,
          peersVerifiedIn1970S: seen === undefined ? 'no' : secs(seen),
          peersVerifiedAfterS: back === undefined ? 'no' : secs(back),
          afterReturn: s3,
          timersSet: jc.stats.timers,
          timersAlreadyDue: jc.stats.alreadyDue,
          timersBeyond2e31ms: jc.stats.overflow,
          overflowWarnings: warnings.filter((w) => /TimeoutOverflow/.test(w)).length,
        }),
        [
          ...problems,
          ...(warnings.some((w) => /TimeoutOverflow/.test(w))
            ? [
                `Node fired timers longer than 2^31-1 ms at once (TimeoutOverflowWarning); set at ${[...jc.stats.where].join(', ')}`,
              ]
            : []),
          ...(jc.stats.nan > 0 ? [`${jc.stats.nan} timer(s) with NaN delay`] : []),
        ],
        'in 1970 J works with K (invitations both ways); back at the right time everything still works; timers decades away wait (no TimeoutOverflowWarning)',
      ),
    );
  }
  return rows;
}
