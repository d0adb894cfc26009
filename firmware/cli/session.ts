import { Command } from 'commander';
import type { InvitationView, SessionDetail, SessionView } from '../control/collab-types.js';
import type { BusEvent } from '../core/bus.js';
import { call, stream } from './client.js';
import { table } from './format.js';
import { enc, type Out } from './invite.js';

type Json = { json?: boolean };
type Message = SessionDetail['messages'][number];
/** Peer id → name, as far as the session's members tell. */
type Names = Map<string, string>;

const nameOf = (names: Names, id: string): string => names.get(id) ?? id.split('-')[0] ?? id;
/** Member names; a hosted session's host (this hub) is not among its members: "me". */
function namesOf(s: SessionView): Names {
  const names: Names = new Map(s.members.map((m) => [m.id, m.name]));
  if (s.role === 'host' && !names.has(s.host)) names.set(s.host, 'me');
  return names;
}

export function formatSessions(list: SessionView[]): string {
  if (list.length === 0) return 'No sessions. Start one with `peerhub invite <peer>` or `session create`.';
  return table(
    ['ID', 'ROLE', 'STATE', 'HOST', 'APP', 'SEQ', 'MEMBERS'],
    list.map((s) => [
      s.id,
      s.role,
      s.state,
      s.role === 'host' ? 'me' : nameOf(namesOf(s), s.host),
      s.appId ?? '-',
      String(s.seq),
      s.members.map((m) => m.name).join(',') || '-',
    ]),
  );
}

export function formatMessage(m: Pick<Message, 'seq' | 'from' | 'text'>, names: Names): string {
  return `#${m.seq} ${nameOf(names, m.from)}: ${m.text}`;
}

export function formatSession(s: SessionDetail): string {
  const names = namesOf(s);
  const members = s.members.map((m) =>
    m.connected === undefined ? m.name : `${m.name} (${m.connected ? 'connected' : 'not connected'})`,
  );
  const rows: Array<[string, string]> = [
    ['Session', s.id],
    ['Role', s.role === 'host' ? 'host (this hub)' : `member (host ${nameOf(names, s.host)})`],
    ['State', s.state],
    ['Application', s.appId ?? '-'],
    ['Members', members.join(', ') || '-'],
  ];
  if (s.invitations) {
    const t = s.invitations;
    rows.push([
      'Invitations',
      `${t.accepted.length} accepted, ${t.declined.length} declined, ${t.noResponse.length} without answer, ${t.failed.length} failed`,
    ]);
  }
  const head = rows.map(([k, v]) => `${(k + ':').padEnd(13)} ${v}`);
  if (s.messages.length === 0) return [...head, 'Messages:    none'].join('\n');
  return [...head, 'Messages:', ...s.messages.map((m) => `  ${formatMessage(m, names)}`)].join('\n');
}

/** Is this event about session `id` (its own events and its invitations')? */
export function concerns(ev: BusEvent, id: string): boolean {
  if (!ev.type.startsWith('session:') && !ev.type.startsWith('invitation:')) return false;
  const d = (ev.data ?? {}) as { sessionId?: unknown; invitation?: { sessionId?: unknown } };
  return d.sessionId === id || d.invitation?.sessionId === id;
}

/** One line per event for `session watch` (names learnt from the session and its joins). */
export function formatSessionEvent(ev: BusEvent, names: Names): string {
  const d = (ev.data ?? {}) as Record<string, unknown>;
  const str = (k: string): string => String(d[k] ?? '?');
  let summary: string;
  switch (ev.type) {
    case 'session:message':
      summary = formatMessage(d as unknown as Message, names);
      break;
    case 'session:member-joined':
      if (typeof d.nickname === 'string' && typeof d.peerId === 'string') names.set(d.peerId, d.nickname);
      summary = `${nameOf(names, str('peerId'))} joined`;
      break;
    case 'session:member-left':
      summary = `${nameOf(names, str('peerId'))} left${d.reason ? ` (${str('reason')})` : ''}`;
      break;
    case 'session:host-lost':
      summary = `host ${nameOf(names, str('hostPeerId'))} lost${d.reason ? ` (${str('reason')})` : ''}`;
      break;
    case 'session:resynced':
      summary = `messages after #${str('lostAfter')} up to #${str('lostUntil')} were lost`;
      break;
    default:
      if (ev.type.startsWith('invitation:') && d.invitation) {
        const i = d.invitation as Pick<InvitationView, 'id' | 'direction' | 'peer' | 'state' | 'reason'>;
        summary = `${i.id} ${i.direction === 'in' ? 'from' : 'to'} ${nameOf(names, i.peer)}: ${i.state}${i.reason ? ` (${i.reason})` : ''}`;
      } else {
        const { sessionId: _sessionId, ...rest } = d;
        summary = Object.keys(rest).length ? JSON.stringify(rest) : '';
      }
  }
  return `${ev.time}  ${ev.type.padEnd(22)} ${summary}`.trimEnd();
}

/**
 * `peerhub session …`: the sessions this hub hosts or joined. Registered on `program` so that usage
 * errors keep its exit code (2) and its help.
 */
export function sessionCommands(program: Command, sock: () => string, out: Out): void {
  const json = (c: Command): Command => c.option('--json', 'machine-readable output');
  const session = program.command('session').description('sessions this hub hosts or joined');
  const path = (id: string, rest = ''): string => `/v1/sessions/${enc(id)}${rest}`;
  const shown = (o: Json, what: string) => (s: SessionView) => out(!!o.json, s, () => `${what} ${s.id}`);

  json(session.command('list', { isDefault: true }))
    .description('list sessions')
    .action(async (o: Json) => {
      const list = await call<SessionView[]>(sock(), 'GET', '/v1/sessions');
      out(!!o.json, list, () => formatSessions(list));
    });
  json(session.command('show').argument('<id>', 'session id'))
    .description('a session: members and messages')
    .action(async (id: string, o: Json) => {
      const s = await call<SessionDetail>(sock(), 'GET', path(id));
      out(!!o.json, s, () => formatSession(s));
    });
  json(session.command('create'))
    .description('open a session hosted here (invite to it with `invite --session`)')
    .option('--app <id>', 'application for the session')
    .action(async (o: Json & { app?: string }) => {
      const body = o.app === undefined ? {} : { appId: o.app };
      const s = await call<SessionView>(sock(), 'POST', '/v1/sessions', body);
      out(!!o.json, s, () => `created session ${s.id}${s.appId ? ` (${s.appId})` : ''}`);
    });
  json(session.command('send').argument('<id>', 'session id').argument('<text...>', 'the message'))
    .description('send a message to the session')
    .action(async (id: string, text: string[], o: Json) => {
      const m = await call<Message>(sock(), 'POST', path(id, '/messages'), { text: text.join(' ') });
      out(!!o.json, m, () => `sent #${m.seq}`);
    });
  json(session.command('watch').argument('<id>', 'session id'))
    .description("follow a session's messages, members and invitations (Ctrl-C to stop)")
    .action(async (id: string, o: Json) => {
      // The session first: it must exist, and its members name the senders.
      const names = namesOf(await call<SessionDetail>(sock(), 'GET', path(id)));
      await stream(sock(), '/v1/events', (item) => {
        const ev = item as BusEvent;
        if (!concerns(ev, id)) return;
        process.stdout.write((o.json ? JSON.stringify(ev) : formatSessionEvent(ev, names)) + '\n');
      });
    });
  json(session.command('leave').argument('<id>', 'session id'))
    .description('leave a session joined here')
    .action(async (id: string, o: Json) =>
      shown(o, 'left session')(await call<SessionView>(sock(), 'POST', path(id, '/leave'))),
    );
  json(session.command('end').argument('<id>', 'session id'))
    .description('end a session hosted here (for every member)')
    .action(async (id: string, o: Json) =>
      shown(o, 'ended session')(await call<SessionView>(sock(), 'POST', path(id, '/end'))),
    );
  json(session.command('remove').argument('<id>', 'session id').argument('<peer>', 'member nickname or id'))
    .description('remove a member from a session hosted here')
    .action(async (id: string, peer: string, o: Json) =>
      shown(
        o,
        `removed ${peer} from session`,
      )(await call<SessionView>(sock(), 'DELETE', path(id, `/members/${enc(peer)}`))),
    );
}
