import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { Application, SharedObject } from '../collab/apps-types.js';
import { call } from './client.js';
import { table } from './format.js';

type Out = (json: boolean, body: unknown, human: () => string) => void;
const SCOPES = ['None', 'NearMe', 'Internet', 'All'];
const b64 = (file?: string): string | undefined =>
  file === undefined ? undefined : readFileSync(file === '-' ? 0 : file).toString('base64');

/** `peerhub apps …` and `peerhub objects …`: what this hub publishes (one control-API route each). */
export function collabCommands(sock: () => string, out: Out): Command[] {
  const apps = new Command('apps').description('applications registered on this hub (invitations name one)');
  apps
    .command('list', { isDefault: true })
    .option('--json', 'machine-readable output')
    .description('list registered applications')
    .action(async (o: { json?: boolean }) => {
      const list = await call<Application[]>(sock(), 'GET', '/v1/apps');
      out(!!o.json, list, () =>
        list.length === 0
          ? 'No applications registered.'
          : table(
              ['ID', 'SCOPE', 'COMMAND', 'DESCRIPTION'],
              list.map((a) => [a.id, a.scope, [a.command, ...a.args].join(' '), a.description]),
            ),
      );
    });
  apps
    .command('register')
    .argument('<id>', 'application GUID')
    .argument('<command>', 'absolute path of the program to launch on accept (no shell)')
    .argument('[args...]', 'its arguments')
    .option('--description <text>', 'what it is')
    .option('--scope <scope>', `who sees it: ${SCOPES.join(', ')}`, 'All')
    .option('--data-file <file>', 'data handed to the application (≤ 16 KB)')
    .option('--json', 'machine-readable output')
    .description('register (or update) an application')
    .action(
      async (
        id: string,
        command: string,
        args: string[],
        o: Record<string, string | boolean | undefined>,
      ) => {
        const body = {
          id,
          command,
          args,
          scope: o.scope,
          ...(o.description !== undefined && { description: o.description }),
          ...(o.dataFile !== undefined && { data: b64(String(o.dataFile)) }),
        };
        const a = await call<Application>(sock(), 'POST', '/v1/apps', body);
        out(!!o.json, a, () => `registered ${a.id} (${a.scope})`);
      },
    );
  apps
    .command('unregister')
    .argument('<id>', 'application GUID')
    .option('--json', 'machine-readable output')
    .description('remove an application')
    .action(async (id: string, o: { json?: boolean }) => {
      const a = await call<Application>(sock(), 'DELETE', `/v1/apps/${encodeURIComponent(id)}`);
      out(!!o.json, a, () => `unregistered ${a.id}`);
    });

  const objects = new Command('objects').description('objects published with my presence');
  objects
    .command('list', { isDefault: true })
    .option('--json', 'machine-readable output')
    .description('list published objects')
    .action(async (o: { json?: boolean }) => {
      const list = await call<SharedObject[]>(sock(), 'GET', '/v1/objects');
      out(!!o.json, list, () =>
        list.length === 0
          ? 'No objects published.'
          : table(
              ['ID', 'SCOPE', 'BYTES'],
              list.map((x) => [x.id, x.scope, String(Buffer.from(x.data, 'base64').length)]),
            ),
      );
    });
  objects
    .command('set')
    .argument('<id>', 'object GUID')
    .argument('<file>', 'its data (≤ 16 KB), - for stdin')
    .option('--scope <scope>', `who sees it: ${SCOPES.join(', ')}`, 'All')
    .option('--json', 'machine-readable output')
    .description('publish (or update) an object')
    .action(async (id: string, file: string, o: { json?: boolean; scope: string }) => {
      const x = await call<SharedObject>(sock(), 'PUT', `/v1/objects/${encodeURIComponent(id)}`, {
        data: b64(file),
        scope: o.scope,
      });
      out(!!o.json, x, () => `published ${x.id} (${x.scope})`);
    });
  objects
    .command('delete')
    .argument('<id>', 'object GUID')
    .option('--json', 'machine-readable output')
    .description('withdraw an object')
    .action(async (id: string, o: { json?: boolean }) => {
      const x = await call<SharedObject>(sock(), 'DELETE', `/v1/objects/${encodeURIComponent(id)}`);
      out(!!o.json, x, () => `deleted ${x.id}`);
    });
  return [apps, objects];
}
