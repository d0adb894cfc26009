import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { ContactView } from '../control/contacts-types.js';
import { call, callRaw } from './client.js';
import { table } from './format.js';

type Out = (json: boolean, body: unknown, human: () => string) => void;
const ref = (r: string): string => encodeURIComponent(r);

export function formatContacts(list: ContactView[]): string {
  if (list.length === 0)
    return 'No contacts. Add one with `peerhub contacts add-nearby <peer>` or `contacts import`.';
  return table(
    ['NICKNAME', 'PRESENCE', 'ID', 'VERIFIED', 'SUBSCRIPTION', 'ENDPOINTS'],
    list.map((c) => [
      c.nickname,
      c.online ? (c.presence?.status ?? 'Online') : 'offline',
      c.shortId,
      c.verified ? 'yes' : 'no',
      c.subscription,
      c.endpoints.join(',') || '-',
    ]),
  );
}

export function formatContact(c: ContactView): string {
  const rows: Array<[string, string]> = [
    ['Nickname', c.nickname],
    ['Peer id', c.id],
    ['Display name', c.displayName || '-'],
    ['E-mail', c.email || '-'],
    [
      'Presence',
      c.online
        ? `${c.presence?.status ?? 'Online'}${c.presence?.text ? ` — ${c.presence.text}` : ''}`
        : 'offline',
    ],
    [
      'Verified',
      c.verified ? `yes (${new Date(c.verifiedAt ?? 0).toISOString()})` : 'no — compare `contacts verify`',
    ],
    ['Subscription', c.subscription],
    ['Endpoints', c.endpoints.join(', ') || '-'],
  ];
  return rows.map(([k, v]) => `${(k + ':').padEnd(14)} ${v}`).join('\n');
}

/** `peerhub contacts …`: each subcommand is one control-API route. */
export function contactsCommand(sock: () => string, out: Out): Command {
  const contacts = new Command('contacts').description('the contact manager (people you trust)');
  const json = (c: Command): Command => c.option('--json', 'machine-readable output');
  const shown = (o: { json?: boolean }) => (c: ContactView) => out(!!o.json, c, () => formatContact(c));

  json(contacts.command('list', { isDefault: true }).description('list contacts')).action(
    async (o: { json?: boolean }) => {
      const list = await call<ContactView[]>(sock(), 'GET', '/v1/contacts');
      out(!!o.json, list, () => formatContacts(list));
    },
  );
  json(contacts.command('show').argument('<contact>', 'peer id, id prefix, peer name or nickname'))
    .description('one contact, with live presence')
    .action(async (r: string, o) =>
      shown(o)(await call<ContactView>(sock(), 'GET', `/v1/contacts/${ref(r)}`)),
    );
  json(contacts.command('add-nearby').argument('<peer>', 'nickname or id from `peerhub peers`'))
    .description('add a hub near me: fetch its card over the peer API (the handshake proves its id)')
    .action(async (p: string, o) =>
      shown(o)(await call<ContactView>(sock(), 'POST', '/v1/contacts/nearby', { peer: p })),
    );
  json(contacts.command('import').argument('<file>', 'contact file (XML), - for stdin'))
    .description('add a contact from a contact file')
    .action(async (file: string, o) => {
      // Size and encoding are checked here too, so a huge file gets the contact file's own message.
      const { decodeContactFile } = await import('../contacts/xml-card.js');
      const xml = decodeContactFile(readFileSync(file === '-' ? 0 : file));
      const raw = await callRaw(sock(), 'POST', '/v1/contacts/import', xml, 'application/xml');
      shown(o)(JSON.parse(raw) as ContactView);
    });
  contacts
    .command('export')
    .argument('<contact>', 'contact')
    .description("print a contact's file (XML)")
    .action(async (r: string) => {
      process.stdout.write(await callRaw(sock(), 'GET', `/v1/contacts/${ref(r)}/export`));
    });
  contacts
    .command('export-me')
    .description('print my own contact file (XML): `peerhub contacts export-me > me.contact`')
    .action(async () => {
      process.stdout.write(await callRaw(sock(), 'GET', '/v1/me/contact'));
    });
  json(contacts.command('verify').argument('<contact>', 'contact'))
    .option('--confirm', 'the codes match on both hubs: mark the contact verified')
    .description('show the verification code to compare with the other hub')
    .action(async (r: string, o: { json?: boolean; confirm?: boolean }) => {
      if (o.confirm)
        return shown(o)(await call<ContactView>(sock(), 'POST', `/v1/contacts/${ref(r)}/verify`, {}));
      const v = await call<{ id: string; nickname: string; code: string; verified: boolean }>(
        sock(),
        'GET',
        `/v1/contacts/${ref(r)}/verify`,
      );
      out(
        !!o.json,
        v,
        () =>
          `${v.code}\nCompare with \`peerhub contacts verify\` on ${v.nickname}'s hub; if equal: --confirm`,
      );
    });
  json(contacts.command('update').argument('<contact>', 'contact'))
    .option('--nickname <name>')
    .option('--display-name <name>')
    .option('--email <address>')
    .option('--endpoint <host:port...>', 'endpoints reachable without discovery (replaces the list)')
    .description('change what you keep about a contact')
    .action(
      async (
        r: string,
        o: { json?: boolean; nickname?: string; displayName?: string; email?: string; endpoint?: string[] },
      ) => {
        const patch = {
          ...(o.nickname !== undefined && { nickname: o.nickname }),
          ...(o.displayName !== undefined && { displayName: o.displayName }),
          ...(o.email !== undefined && { email: o.email }),
          ...(o.endpoint !== undefined && { endpoints: o.endpoint }),
        };
        shown(o)(await call<ContactView>(sock(), 'PATCH', `/v1/contacts/${ref(r)}`, patch));
      },
    );
  json(contacts.command('remove').argument('<contact>', 'contact'))
    .description('delete a contact')
    .action(async (r: string, o) =>
      shown(o)(await call<ContactView>(sock(), 'DELETE', `/v1/contacts/${ref(r)}`)),
    );
  json(contacts.command('subscribe').argument('<contact>', 'contact'))
    .description("follow this contact's presence now (automatic for allowed contacts; retries at once)")
    .action(async (r: string, o) =>
      shown(o)(await call<ContactView>(sock(), 'POST', `/v1/contacts/${ref(r)}/subscribe`, {})),
    );
  for (const [name, subscription, what] of [
    ['allow', 'allowed', 'let this contact subscribe to my presence'],
    ['block', 'blocked', 'this contact gets nothing from me (presence, invitations)'],
  ] as const) {
    json(contacts.command(name).argument('<contact>', 'contact'))
      .description(what)
      .action(async (r: string, o) =>
        shown(o)(
          await call<ContactView>(sock(), 'PUT', `/v1/contacts/${ref(r)}/subscription`, { subscription }),
        ),
      );
  }
  return contacts;
}
