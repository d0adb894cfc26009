import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, runBin } from '../run-bin.js';
import { buildControlApi } from '../../../firmware/control/app.js';
import {
  ATTIC,
  CELLAR,
  collabFake,
  IN_HOST_REQUEST,
  IN_INVITATION,
  IN_SESSION,
  ME,
} from '../control/collab-fake.js';
import { fakeAgent } from '../control/fake-agent.js';

// Host requests, invitations, sessions and policy as users run them: the compiled bin over a real Unix
// socket, in front of an in-memory collaboration layer.
if (!existsSync(bin)) {
  t.fail(`compiled CLI missing at ${bin}: run \`npm run build\` (npm test does)`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ph-collab-cli-'));
  const socket = join(dir, 'control.sock');
  const agent = fakeAgent();
  const fake = collabFake();
  const app = buildControlApi({ ...agent, collaboration: fake });
  await app.listen({ path: socket });
  t.teardown(() => app.close());
  const run = (...args: string[]) => runBin(['--socket', socket, ...args]);
  const last = () => fake.calls.at(-1);

  t.test('host request: waits for the answer, exit 0 only when accepted', async (t) => {
    const ok = await run(
      'host',
      'request',
      'Attic',
      '--app',
      'chess',
      '--message',
      'hi',
      '--timeout',
      '30',
      '--json',
    );
    t.equal(ok.code, 0, ok.stderr);
    t.same(last(), {
      method: 'hostRequest',
      args: ['Attic', { appId: 'chess', message: 'hi', timeoutMs: 30_000 }],
    });
    const body = JSON.parse(ok.stdout);
    t.match(body, { peer: ATTIC, state: 'accepted', session: /^[0-9a-f]{32}$/ });

    const human = await run('host', 'request', 'attic');
    t.equal(human.code, 0, human.stderr);
    t.same(last()?.args, ['attic', {}]);
    t.match(human.stdout, new RegExp(`^accepted by attic \\(${ATTIC}\\): session [0-9a-f]{32}\\n$`));

    fake.hostOutcome = { state: 'declined', reason: 'busy baking' };
    const no = await run('host', 'request', ATTIC);
    t.equal(no.code, 1, 'declined: exit 1');
    t.equal(no.stdout, `declined by ${ATTIC}: busy baking\n`);
    t.equal(no.stderr, '');
    const noJson = await run('host', 'request', 'Attic', '--json');
    t.equal(noJson.code, 1, 'declined with --json: exit 1 too');
    t.same(JSON.parse(noJson.stdout), {
      id: JSON.parse(noJson.stdout).id,
      peer: ATTIC,
      state: 'declined',
      reason: 'busy baking',
    });

    fake.hostOutcome = { state: 'expired' };
    const late = await run('host', 'request', 'Cellar');
    t.equal(late.code, 1, 'expired: exit 1');
    t.equal(late.stdout, `expired: no answer from Cellar (${CELLAR})\n`);
    fake.hostOutcome = { state: 'accepted' };

    const unknown = await run('host', 'request', 'Nobody');
    t.equal(unknown.code, 1);
    t.equal(unknown.stderr, 'peerhub: no peer near me matches "Nobody"\n');
  });

  t.test('host list, accept, decline', async (t) => {
    const inJson = await run('host', 'list', '--in', '--state', 'pending', '--json');
    t.equal(inJson.code, 0, inJson.stderr);
    t.same(last(), { method: 'hostRequests', args: [{ direction: 'in', state: 'pending' }] });
    t.same(
      JSON.parse(inJson.stdout).map((r: { id: string }) => r.id),
      [IN_HOST_REQUEST],
    );
    const human = await run('host');
    t.same(last(), { method: 'hostRequests', args: [{}] }, '`host` lists');
    t.match(human.stdout, /^ID\s+DIR\s+PEER\s+STATE\s+APP\s+SESSION\s+EXPIRES\s+MESSAGE\n/);
    t.match(
      human.stdout,
      new RegExp(`${IN_HOST_REQUEST}\\s+in\\s+Cellar\\s+pending\\s+-\\s+-\\s+in \\d+m\\s+host us\\?`),
    );

    const accepted = await run('host', 'accept', IN_HOST_REQUEST);
    t.equal(accepted.code, 0, accepted.stderr);
    t.same(last(), { method: 'answerHostRequest', args: [IN_HOST_REQUEST, 'accepted'] });
    t.match(
      accepted.stdout,
      new RegExp(`^accepted host request ${IN_HOST_REQUEST} from Cellar: session [0-9a-f]{32}\\n$`),
    );
    const again = await run('host', 'decline', IN_HOST_REQUEST, '--json');
    t.equal(again.code, 1);
    t.same(last(), { method: 'answerHostRequest', args: [IN_HOST_REQUEST, 'declined'] });
    t.match(again.stderr, /^peerhub: host request c3c3.* is accepted\n$/);
  });

  t.test('invite, invitations, cancel', async (t) => {
    const file = join(dir, 'board.bin');
    writeFileSync(file, Buffer.from([0, 1, 2, 250]));
    const sent = await run(
      'invite',
      'Attic',
      'Cellar',
      '--app',
      'chess',
      '--message',
      'a game?',
      '--data-file',
      file,
      '--expires',
      '120',
      '--json',
    );
    t.equal(sent.code, 0, sent.stderr);
    t.same(last(), {
      method: 'invite',
      args: [
        {
          peers: ['Attic', 'Cellar'],
          appId: 'chess',
          message: 'a game?',
          data: Buffer.from([0, 1, 2, 250]).toString('base64'),
          expiresInMs: 120_000,
        },
      ],
    });
    const { session, invitations } = JSON.parse(sent.stdout);
    t.equal(invitations.length, 2);

    const more = await run('invite', 'Attic', '--session', session);
    t.equal(more.code, 0, more.stderr);
    t.same(last()?.args, [{ peers: ['Attic'], session }]);
    const lines = more.stdout.trimEnd().split('\n');
    t.equal(lines[0], `session ${session}`);
    t.match(lines[1], /^invitation [0-9a-f]{32} to Attic: pending, sending$/);
    t.equal(lines.length, 2, 'the session, then one line per invitation');

    const list = await run('invitations', '--out', '--session', session);
    t.equal(list.code, 0, list.stderr);
    t.same(last(), { method: 'invitations', args: [{ direction: 'out', session }] });
    const rows = list.stdout.trimEnd().split('\n');
    t.match(rows[0], /^ID\s+DIR\s+PEER\s+STATE\s+SESSION\s+APP\s+EXPIRES\s+MESSAGE$/);
    t.equal(rows.length, 4);
    t.match(
      rows[1],
      new RegExp(
        `^${invitations[0].id}\\s+out\\s+Attic\\s+pending\\s+${session}\\s+chess\\s+in \\d+m\\s+a game\\?$`,
      ),
    );
    const inbound = await run('invitations', '--in', '--json');
    t.same(last()?.args, [{ direction: 'in' }]);
    t.same(
      JSON.parse(inbound.stdout).map((i: { id: string }) => i.id),
      [IN_INVITATION],
    );
    const none = await run('invitations', '--state', 'failed');
    t.equal(none.stdout, 'No invitations.\n');

    const first = invitations[0].id as string;
    const cancelled = await run('cancel', first);
    t.equal(cancelled.code, 0, cancelled.stderr);
    t.same(last(), { method: 'cancel', args: [first] });
    t.equal(cancelled.stdout, `cancelled invitation ${first} to Attic (cancelled by the host)\n`);
    const rest = await run('cancel', '--no-response', '--session', session, '--json');
    t.equal(rest.code, 0, rest.stderr);
    t.same(last(), { method: 'cancelNoResponse', args: [session] });
    t.same(
      JSON.parse(rest.stdout).map((i: { name: string; state: string }) => [i.name, i.state]),
      [
        ['Cellar', 'cancelled'],
        ['Attic', 'cancelled'],
      ],
    );
    const nothing = await run('cancel', '--no-response', '--session', session);
    t.equal(nothing.stdout, `No invitations without an answer in session ${session}.\n`);
  });

  t.test('usage errors exit 2 without calling the agent', async (t) => {
    const before = fake.calls.length;
    for (const args of [
      ['cancel'],
      ['cancel', IN_INVITATION, '--no-response', '--session', IN_SESSION],
      ['cancel', '--no-response'],
      ['cancel', '--session', IN_SESSION],
      ['invite'],
      ['invite', 'Attic', '--expires', 'soon'],
      ['host', 'request', 'Attic', '--timeout', '0'],
      ['host', 'list', '--in', '--out'],
      ['invitations', '--state', 'maybe'],
      ['policy', 'set'],
      ['policy', 'set', '--minutes', '5'],
      ['policy', 'set', '--invite', 'contacts', '--minutes', '5'],
      ['policy', 'set', '--invite', 'sometimes'],
      ['policy', 'set', '--invite', 'nearby', '--minutes', '61'],
      ['session', 'send', IN_SESSION],
    ]) {
      const r = await run(...args);
      t.equal(r.code, 2, args.join(' '));
      t.match(r.stderr, /error: /, args.join(' '));
    }
    t.equal(fake.calls.length, before, 'nothing reached the agent');
  });

  t.test('accept and decline an invitation', async (t) => {
    const declineFirst = structuredClone(fake.invitationsById.get(IN_INVITATION)!);
    fake.invitationsById.set('d4'.repeat(16), { ...declineFirst, id: 'd4'.repeat(16) });
    const declined = await run('decline', 'd4'.repeat(16));
    t.equal(declined.code, 0, declined.stderr);
    t.same(last(), { method: 'decline', args: ['d4'.repeat(16)] });
    t.equal(declined.stdout, `declined invitation ${'d4'.repeat(16)} from Attic\n`);

    const accepted = await run('accept', IN_INVITATION);
    t.equal(accepted.code, 0, accepted.stderr);
    t.same(last(), { method: 'accept', args: [IN_INVITATION] });
    t.equal(
      accepted.stdout,
      [
        `accepted invitation ${IN_INVITATION} from Attic`,
        `joined session ${IN_SESSION}`,
        'launched chess (pid 4242)',
        '',
      ].join('\n'),
    );
    const twice = await run('accept', IN_INVITATION, '--json');
    t.equal(twice.code, 1);
    t.equal(twice.stdout, '');
    t.equal(twice.stderr, `peerhub: invitation ${IN_INVITATION} is accepted\n`);
  });

  t.test('sessions: list, show, create, send, remove, end, leave', async (t) => {
    const shown = await run('session', 'show', IN_SESSION);
    t.equal(shown.code, 0, shown.stderr);
    t.same(last(), { method: 'session', args: [IN_SESSION] });
    t.match(shown.stdout, new RegExp(`^Session:\\s+${IN_SESSION}\\n`));
    t.match(shown.stdout, /Role:\s+member \(host Attic\)\n/);
    t.match(shown.stdout, /Members:\s+Attic, Kitchen\n/);
    t.match(shown.stdout, /Messages:\n {2}#1 Attic: welcome\n {2}#2 Kitchen: hello\n$/);

    const created = await run('session', 'create', '--app', 'chess', '--json');
    t.equal(created.code, 0, created.stderr);
    t.same(last(), { method: 'createSession', args: [{ appId: 'chess' }] });
    const s = JSON.parse(created.stdout);
    t.match(s, { host: ME, role: 'host', state: 'open', appId: 'chess' });
    const bare = await run('session', 'create');
    t.same(last()?.args, [{}]);
    t.match(bare.stdout, /^created session [0-9a-f]{32}\n$/);

    const sent = await run('session', 'send', s.id, 'your', 'move');
    t.equal(sent.code, 0, sent.stderr);
    t.same(last(), { method: 'send', args: [s.id, 'your move'] });
    t.equal(sent.stdout, 'sent #1\n');

    const list = await run('session', 'list');
    t.same(last(), { method: 'sessions', args: [] });
    t.match(list.stdout, /^ID\s+ROLE\s+STATE\s+HOST\s+APP\s+SEQ\s+MEMBERS\n/);
    t.match(
      list.stdout,
      new RegExp(`${IN_SESSION}\\s+member\\s+joined\\s+Attic\\s+chess\\s+2\\s+Attic,Kitchen`),
    );
    t.match(list.stdout, new RegExp(`${s.id}\\s+host\\s+open\\s+me\\s+chess\\s+1\\s+-`));
    const listJson = await run('session', '--json');
    t.same(
      JSON.parse(listJson.stdout).map((x: { id: string }) => x.id),
      [...fake.sessionsById.keys()],
    );

    fake.sessionsById.get(s.id)!.members.push({ id: ATTIC, name: 'Attic', connected: false });
    const hosted = await run('session', 'show', s.id);
    t.match(hosted.stdout, /Role:\s+host \(this hub\)\n/);
    t.match(hosted.stdout, /Members:\s+Attic \(not connected\)\n/);
    t.match(hosted.stdout, /Invitations:\s+0 accepted, 0 declined, 0 without answer, 0 failed\n/);
    t.match(hosted.stdout, /Messages:\n {2}#1 me: your move\n$/);
    const removed = await run('session', 'remove', s.id, 'Attic');
    t.equal(removed.code, 0, removed.stderr);
    t.same(last(), { method: 'removeMember', args: [s.id, 'Attic'] });
    t.equal(removed.stdout, `removed Attic from session ${s.id}\n`);
    const ended = await run('session', 'end', s.id, '--json');
    t.same(last(), { method: 'end', args: [s.id] });
    t.match(JSON.parse(ended.stdout), { id: s.id, state: 'ended' });
    const left = await run('session', 'leave', IN_SESSION);
    t.same(last(), { method: 'leave', args: [IN_SESSION] });
    t.equal(left.stdout, `left session ${IN_SESSION}\n`);
    const late = await run('session', 'send', s.id, 'anyone?');
    t.equal(late.code, 1);
    t.match(late.stderr, /^peerhub: session [0-9a-f]{32} is ended\n$/);
  });

  t.test('policy: show (the default) and set', async (t) => {
    const shown = await run('policy', '--json');
    t.equal(shown.code, 0, shown.stderr);
    t.same(last(), { method: 'policy', args: [] });
    t.same(JSON.parse(shown.stdout), {
      invite: { mode: 'contacts' },
      host: 'auto-contacts',
      contactsOnActivity: 'add',
    });
    const human = await run('policy');
    t.equal(
      human.stdout,
      [
        'Invitations from:      contacts',
        'Host requests:         auto-contacts (contacts accepted at once, others asked)',
        'Contacts on activity:  add (session members become contacts when active)',
        '',
      ].join('\n'),
    );
    const set = await run(
      'policy',
      'set',
      '--invite',
      'nearby',
      '--minutes',
      '15',
      '--host',
      'ask',
      '--json',
    );
    t.equal(set.code, 0, set.stderr);
    t.same(last(), { method: 'setPolicy', args: [{ invite: { mode: 'nearby', minutes: 15 }, host: 'ask' }] });
    t.match(JSON.parse(set.stdout), { invite: { mode: 'nearby', until: Number }, host: 'ask' });
    const off = await run('policy', 'set', '--invite', 'nobody', '--contacts-on-activity', 'never');
    t.same(last()?.args, [{ invite: { mode: 'nobody' }, contactsOnActivity: 'never' }]);
    t.match(off.stdout, /^Invitations from:\s+nobody\nHost requests:\s+ask /);
    t.match(off.stdout, /Contacts on activity:\s+never\n$/);
    const nearby = await run('policy', 'set', '--invite', 'nearby');
    t.same(last()?.args, [{ invite: { mode: 'nearby' } }]);
    t.match(nearby.stdout, /^Invitations from:\s+contacts and hubs near me until \S+ \(in 10m\)\n/);
  });

  /** Run `session watch`, emitting events until `done(stdout)` (bounded: 10 s), then stop it. */
  async function watch(args: string[], done: (out: string) => boolean, other: string): Promise<string> {
    const p = spawn(process.execPath, [bin, '--socket', socket, 'session', 'watch', ...args]);
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    const closed = new Promise((r) => p.on('close', r));
    try {
      const deadline = Date.now() + 10_000;
      while (!done(out) && Date.now() < deadline) {
        agent.bus.emit('session:member-joined', {
          sessionId: IN_SESSION,
          peerId: CELLAR,
          nickname: 'Cellar',
        });
        agent.bus.emit('session:message', { sessionId: other, seq: 9, from: ATTIC, text: 'elsewhere' });
        agent.bus.emit('peer:found', { sessionId: IN_SESSION, nickname: 'Attic' });
        agent.bus.emit('session:message', { sessionId: IN_SESSION, seq: 7, from: ATTIC, text: 'ping' });
        agent.bus.emit('invitation:answered', {
          invitation: {
            id: 'e5'.repeat(16),
            sessionId: other,
            direction: 'out',
            peer: CELLAR,
            state: 'accepted',
          },
        });
        agent.bus.emit('invitation:answered', {
          invitation: {
            id: 'f6'.repeat(16),
            sessionId: IN_SESSION,
            direction: 'out',
            peer: CELLAR,
            state: 'declined',
            reason: 'busy',
          },
        });
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      p.kill();
      await closed;
    }
    return out;
  }

  t.test('session watch --json: only the events of that session', async (t) => {
    const other = [...fake.sessionsById.keys()].find((id) => id !== IN_SESSION)!;
    const out = await watch(
      [IN_SESSION, '--json'],
      (o) =>
        o.includes('invitation:answered') && o.includes('session:message') && o.includes('member-joined'),
      other,
    );
    const events = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    t.ok(events.length >= 3, `${events.length} events`);
    for (const ev of events) {
      t.ok(
        ev.data.sessionId === IN_SESSION || ev.data.invitation?.sessionId === IN_SESSION,
        `${ev.type} is about the session`,
      );
      t.match(ev.type, /^(session|invitation):/);
    }
    t.ok(
      events.some((e) => e.type === 'session:message' && e.data.text === 'ping' && typeof e.id === 'number'),
      'the message',
    );
    t.ok(
      events.some((e) => e.type === 'invitation:answered' && e.data.invitation.id === 'f6'.repeat(16)),
      'its invitation',
    );
    t.ok(
      events.some((e) => e.type === 'session:member-joined'),
      'a member joined',
    );
  });

  t.test('session watch: one line per event, senders by name', async (t) => {
    const other = [...fake.sessionsById.keys()].find((id) => id !== IN_SESSION)!;
    const out = await watch([IN_SESSION], (o) => o.split('\n').length > 4, other);
    const lines = out.split('\n').filter(Boolean);
    const summaries = new Set(lines.map((l) => l.replace(/^\S+\s+/, '')));
    t.same([...summaries].sort(), [
      `invitation:answered    ${'f6'.repeat(16)} to Cellar: declined (busy)`,
      'session:member-joined  Cellar joined',
      'session:message        #7 Attic: ping',
    ]);
    t.match(lines[0], /^\d{4}-\d\d-\d\dT/);

    const missing = await run('session', 'watch', 'nope');
    t.equal(missing.code, 1);
    t.equal(missing.stderr, 'peerhub: no session nope\n');
  });
}
