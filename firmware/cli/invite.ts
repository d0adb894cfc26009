import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type {
  AcceptView,
  HostRequestResult,
  HostRequestView,
  InvitationView,
  PolicyPatch,
  PolicyView,
} from '../control/collab-types.js';
import { call } from './client.js';
import { table } from './format.js';

export type Out = (json: boolean, body: unknown, human: () => string) => void;
type Json = { json?: boolean };

export const enc = encodeURIComponent;
const HOST_STATES = ['pending', 'accepted', 'declined', 'expired', 'failed'];
const INVITATION_STATES = ['pending', 'accepted', 'declined', 'expired', 'cancelled', 'failed'];

/** A whole number within bounds (`--timeout`, `--expires`, `--minutes`): anything else is a usage error. */
export function whole(min: number, max: number, unit: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || n < min || n > max)
      throw new InvalidArgumentError(`expected ${unit} from ${min} to ${max}`);
    return n;
  };
}

/** A usage error found after parsing (conflicting or missing options): the message, help, exit code 2. */
export function usage(cmd: Command, message: string): never {
  cmd.error(`error: ${message}`, { exitCode: 2, code: 'peerhub.usage' });
}

/** "in 4m" until `at`, "expired" after it. */
export function until(at: number, now = Date.now()): string {
  const s = Math.round((at - now) / 1000);
  if (s <= 0) return 'expired';
  if (s < 60) return `in ${s}s`;
  if (s < 3600) return `in ${Math.round(s / 60)}m`;
  return `in ${Math.round(s / 3600)}h`;
}

/** `?direction=in&state=…` from the options given (none: empty). */
export function query(o: { in?: boolean; out?: boolean; state?: string; session?: string }): string {
  const q = new URLSearchParams();
  if (o.in) q.set('direction', 'in');
  if (o.out) q.set('direction', 'out');
  if (o.state) q.set('state', o.state);
  if (o.session) q.set('session', o.session);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function formatHostResult(r: HostRequestResult, ref: string): string {
  const who = ref === r.peer ? r.peer : `${ref} (${r.peer})`;
  if (r.state === 'accepted') return `accepted by ${who}: session ${r.session ?? '?'}`;
  if (r.state === 'declined') return `declined by ${who}: ${r.reason ?? 'no reason given'}`;
  return `expired: no answer from ${who}${r.reason ? ` (${r.reason})` : ''}`;
}

export function formatHostRequests(list: HostRequestView[], now = Date.now()): string {
  if (list.length === 0) return 'No host requests.';
  return table(
    ['ID', 'DIR', 'PEER', 'STATE', 'APP', 'SESSION', 'EXPIRES', 'MESSAGE'],
    list.map((r) => [
      r.id,
      r.direction,
      r.name,
      r.state,
      r.appId ?? '-',
      r.session ?? '-',
      r.state === 'pending' ? until(r.expiresAt, now) : '-',
      r.message || '-',
    ]),
  );
}

export function formatInvitations(list: InvitationView[], now = Date.now()): string {
  if (list.length === 0) return 'No invitations.';
  return table(
    ['ID', 'DIR', 'PEER', 'STATE', 'SESSION', 'APP', 'EXPIRES', 'MESSAGE'],
    list.map((i) => [
      i.id,
      i.direction,
      i.name,
      i.state,
      i.session,
      i.appId ?? '-',
      i.state === 'pending' ? until(i.expiresAt, now) : '-',
      i.message || '-',
    ]),
  );
}

/** "declined invitation 1f…e2 from Attic". */
export function formatInvitation(i: InvitationView): string {
  const verb = i.state === 'pending' ? 'pending:' : i.state;
  return `${verb} invitation ${i.id} ${i.direction === 'in' ? 'from' : 'to'} ${i.name}${i.reason ? ` (${i.reason})` : ''}`;
}

export function formatAccept(a: AcceptView): string {
  const lines = [formatInvitation(a)];
  if (a.state === 'accepted') {
    lines.push(
      a.joined ? `joined session ${a.session}` : `not joined session ${a.session}: ${a.joinError ?? '?'}`,
    );
  }
  if (a.launched) {
    const l = a.launched;
    lines.push(
      l.error
        ? `could not launch ${l.appId}: ${l.error}`
        : `launched ${l.appId}${l.pid ? ` (pid ${l.pid})` : ''}`,
    );
  }
  return lines.join('\n');
}

export function formatPolicy(p: PolicyView, now = Date.now()): string {
  const invite =
    p.invite.mode === 'nearby'
      ? `contacts and hubs near me until ${new Date(p.invite.until).toISOString()} (${until(p.invite.until, now)})`
      : p.invite.mode === 'contacts'
        ? 'contacts'
        : 'nobody';
  const host = {
    'auto-contacts': 'auto-contacts (contacts accepted at once, others asked)',
    ask: 'ask (the owner answers each request)',
    never: 'never (every request declined)',
  }[p.host];
  const activity =
    p.contactsOnActivity === 'add' ? 'add (session members become contacts when active)' : 'never';
  const rows: Array<[string, string]> = [
    ['Invitations from', invite],
    ['Host requests', host],
    ['Contacts on activity', activity],
  ];
  return rows.map(([k, v]) => `${(k + ':').padEnd(22)} ${v}`).join('\n');
}

/**
 * `peerhub host …`, `invite`, `invitations`, `accept`, `decline`, `cancel`, `policy`: one control-API route
 * each. Registered on `program` so that usage errors keep its exit code (2) and its help.
 */
export function inviteCommands(program: Command, sock: () => string, out: Out): void {
  const json = (c: Command): Command => c.option('--json', 'machine-readable output');
  const direction = (c: Command): Command =>
    c
      .addOption(new Option('--in', 'only those addressed to this hub').conflicts('out'))
      .addOption(new Option('--out', 'only those this hub sent').conflicts('in'));

  const host = program.command('host').description('host requests: ask a hub to host a session');
  json(host.command('request').argument('<peer>', 'nickname or id of the hub asked to host'))
    .description('ask a hub to host a session and wait for its answer (exit 1 unless accepted)')
    .option('--app <id>', 'application for the session')
    .option('--message <text>', 'shown to the host (≤ 255 characters)')
    .addOption(
      new Option('--timeout <seconds>', 'how long to wait for the answer').argParser(
        whole(1, 3600, 'seconds'),
      ),
    )
    .action(async (ref: string, o: Json & { app?: string; message?: string; timeout?: number }) => {
      const body = {
        peer: ref,
        ...(o.app !== undefined && { appId: o.app }),
        ...(o.message !== undefined && { message: o.message }),
        ...(o.timeout !== undefined && { timeoutMs: o.timeout * 1000 }),
      };
      // The agent answers by the deadline (default 5 min + margin); past it and a margin, give up.
      const waitMs = (o.timeout ?? 3600) * 1000 + 30_000;
      const r = await call<HostRequestResult>(sock(), 'POST', '/v1/host-requests', body, {
        timeoutMs: waitMs,
      });
      out(!!o.json, r, () => formatHostResult(r, ref));
      if (r.state !== 'accepted') process.exitCode = 1;
    });
  json(direction(host.command('list', { isDefault: true })))
    .description('host requests sent and received')
    .addOption(new Option('--state <state>', 'only in this state').choices(HOST_STATES))
    .action(async (o: Json & { in?: boolean; out?: boolean; state?: string }) => {
      const list = await call<HostRequestView[]>(sock(), 'GET', `/v1/host-requests${query(o)}`);
      out(!!o.json, list, () => formatHostRequests(list));
    });
  for (const [name, answer] of [
    ['accept', 'accepted'],
    ['decline', 'declined'],
  ] as const) {
    json(host.command(name).argument('<id>', 'host request id (from `peerhub host list --in`)'))
      .description(`${name} a pending request to host a session`)
      .action(async (id: string, o: Json) => {
        const r = await call<HostRequestView>(sock(), 'POST', `/v1/host-requests/${enc(id)}/answer`, {
          answer,
        });
        out(!!o.json, r, () =>
          r.state === 'accepted'
            ? `accepted host request ${r.id} from ${r.name}: session ${r.session ?? '?'}`
            : `${r.state} host request ${r.id} from ${r.name}`,
        );
      });
  }

  json(program.command('invite').argument('<peer...>', 'nicknames or ids of the hubs to invite'))
    .description('invite hubs to a session (a new one unless --session)')
    .option('--session <id>', 'an open session this hub hosts')
    .option('--app <id>', 'application the invitees launch on accept')
    .option('--message <text>', 'shown with the invitation (≤ 255 characters)')
    .option('--data-file <file>', 'data handed to the application (≤ 16 KB), - for stdin')
    .addOption(
      new Option('--expires <seconds>', 'how long the invitation stands').argParser(
        whole(1, 3600, 'seconds'),
      ),
    )
    .action(
      async (
        peers: string[],
        o: Json & { session?: string; app?: string; message?: string; dataFile?: string; expires?: number },
      ) => {
        const body = {
          peers,
          ...(o.session !== undefined && { session: o.session }),
          ...(o.app !== undefined && { appId: o.app }),
          ...(o.message !== undefined && { message: o.message }),
          ...(o.dataFile !== undefined && {
            data: readFileSync(o.dataFile === '-' ? 0 : o.dataFile).toString('base64'),
          }),
          ...(o.expires !== undefined && { expiresInMs: o.expires * 1000 }),
        };
        const r = await call<{ session: string; invitations: InvitationView[] }>(
          sock(),
          'POST',
          '/v1/invitations',
          body,
          { timeoutMs: 30_000 },
        );
        out(!!o.json, r, () =>
          [
            `session ${r.session}`,
            ...r.invitations.map((i) => `invitation ${i.id} to ${i.name}: ${i.state}, ${i.delivery}`),
          ].join('\n'),
        );
      },
    );

  json(direction(program.command('invitations')))
    .description('invitations sent and received')
    .addOption(new Option('--state <state>', 'only in this state').choices(INVITATION_STATES))
    .option('--session <id>', 'only for this session')
    .action(async (o: Json & { in?: boolean; out?: boolean; state?: string; session?: string }) => {
      const list = await call<InvitationView[]>(sock(), 'GET', `/v1/invitations${query(o)}`);
      out(!!o.json, list, () => formatInvitations(list));
    });

  json(program.command('accept').argument('<id>', 'invitation id (from `peerhub invitations --in`)'))
    .description('accept an invitation: join the session, launch its application')
    .action(async (id: string, o: Json) => {
      const a = await call<AcceptView>(sock(), 'POST', `/v1/invitations/${enc(id)}/accept`, undefined, {
        timeoutMs: 60_000,
      });
      out(!!o.json, a, () => formatAccept(a));
    });
  json(program.command('decline').argument('<id>', 'invitation id'))
    .description('decline an invitation')
    .action(async (id: string, o: Json) => {
      const i = await call<InvitationView>(sock(), 'POST', `/v1/invitations/${enc(id)}/decline`);
      out(!!o.json, i, () => formatInvitation(i));
    });
  json(program.command('cancel').argument('[id]', 'invitation id (one this hub sent)'))
    .description('cancel an invitation, or with --no-response --session every unanswered one of a session')
    .option('--no-response', 'every invitation of --session still without an answer')
    .option('--session <id>', 'the session (with --no-response)')
    .action(
      async (id: string | undefined, o: Json & { response: boolean; session?: string }, cmd: Command) => {
        const all = o.response === false;
        if (id !== undefined && (all || o.session !== undefined))
          usage(cmd, 'give an invitation id or --no-response --session <id>, not both');
        if (id === undefined && !(all && o.session !== undefined))
          usage(cmd, 'give an invitation id, or --no-response with --session <id>');
        if (id !== undefined) {
          const i = await call<InvitationView>(sock(), 'POST', `/v1/invitations/${enc(id)}/cancel`);
          return out(!!o.json, i, () => formatInvitation(i));
        }
        const session = o.session as string;
        const list = await call<InvitationView[]>(
          sock(),
          'POST',
          `/v1/sessions/${enc(session)}/cancel-no-response`,
        );
        out(!!o.json, list, () =>
          list.length === 0
            ? `No invitations without an answer in session ${session}.`
            : list.map(formatInvitation).join('\n'),
        );
      },
    );

  const policy = program
    .command('policy')
    .description('who may invite this hub, how host requests are answered');
  json(policy.command('show', { isDefault: true }))
    .description('show the policy')
    .action(async (o: Json) => {
      const p = await call<PolicyView>(sock(), 'GET', '/v1/policy');
      out(!!o.json, p, () => formatPolicy(p));
    });
  json(policy.command('set'))
    .description('change the policy (the options given)')
    .addOption(
      new Option('--invite <mode>', 'who may invite this hub').choices(['contacts', 'nearby', 'nobody']),
    )
    .addOption(
      new Option('--minutes <n>', 'with --invite nearby: for how long (default 10)').argParser(
        whole(1, 60, 'minutes'),
      ),
    )
    .addOption(
      new Option('--host <policy>', 'how host requests are answered').choices([
        'auto-contacts',
        'ask',
        'never',
      ]),
    )
    .addOption(
      new Option('--contacts-on-activity <mode>', "add a session's active members to contacts").choices([
        'add',
        'never',
      ]),
    )
    .action(
      async (
        o: Json & { invite?: string; minutes?: number; host?: string; contactsOnActivity?: string },
        cmd: Command,
      ) => {
        if (o.minutes !== undefined && o.invite !== 'nearby')
          usage(cmd, '--minutes goes with --invite nearby');
        const patch = {
          ...(o.invite !== undefined && {
            invite: { mode: o.invite, ...(o.minutes !== undefined && { minutes: o.minutes }) },
          }),
          ...(o.host !== undefined && { host: o.host }),
          ...(o.contactsOnActivity !== undefined && { contactsOnActivity: o.contactsOnActivity }),
        } as PolicyPatch;
        if (Object.keys(patch).length === 0)
          usage(cmd, 'nothing to change: give --invite, --host or --contacts-on-activity');
        const p = await call<PolicyView>(sock(), 'PUT', '/v1/policy', patch);
        out(!!o.json, p, () => formatPolicy(p));
      },
    );
}
