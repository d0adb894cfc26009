#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { packageVersion } from '../agent-support.js';
import { isPeerhubError } from '../core/errors.js';
import type { PeerRow, StatusView } from '../control/types.js';
import { PRESENCE_STATES, SCOPES } from '../presence/types.js';
import { call, resolveSocket, stream, ApiCallError } from './client.js';
import { collabCommands } from './collab.js';
import { worst, type Check } from '../doctor/checks.js';
import { contactsCommand } from './contacts.js';
import { panelCommands } from './panel.js';
import { formatEvent, formatPeers, formatStatus } from './format.js';
import { inviteCommands } from './invite.js';
import { sessionCommands } from './session.js';
import type { BusEvent } from '../core/bus.js';

/** Every subcommand but `agent` is a thin client: one control-API route, `--json` prints its body as is. */
const program = new Command('peerhub')
  .description('peerhub: LAN presence hub (People Near Me, contacts, invitations)')
  .option('-s, --socket <path>', 'control socket (env PEERHUB_SOCKET)')
  .version(packageVersion(), '-V, --version', 'print the version of this peerhub')
  .showHelpAfterError()
  .exitOverride();

const sock = (): string => resolveSocket(program.opts<{ socket?: string }>().socket);
const out = (json: boolean, body: unknown, human: () => string): void => {
  process.stdout.write((json ? JSON.stringify(body, null, 2) : human()) + '\n');
};

program
  .command('agent')
  .description('run the agent (daemon) in the foreground')
  .option('-c, --config <file>', 'TOML config file (env PEERHUB_CONFIG)')
  .option('--data-dir <dir>', 'state directory (env PEERHUB_DATA_DIR)')
  .option('--nickname <name>', 'name shown to people near you (env PEERHUB_NICKNAME)')
  .option('--classifier <name>', 'peer name suffix (env PEERHUB_CLASSIFIER)')
  .option('--control-socket <path>', 'control API socket (env PEERHUB_CONTROL_SOCKET)')
  .option('--port <n>', 'peer API port announced in SRV (env PEERHUB_PORT)')
  .option('--interface <name>', 'network interface for mDNS (env PEERHUB_INTERFACE)')
  .option('--log-level <level>', 'debug|info|warn|error (env PEERHUB_LOG_LEVEL)')
  .action(async (o: Record<string, string | undefined>) => {
    const { runAgent } = await import('../agent.js');
    process.exitCode = await runAgent({
      configFile: o.config,
      flags: {
        data_dir: o.dataDir,
        nickname: o.nickname,
        classifier: o.classifier,
        control_socket: o.controlSocket,
        port: o.port,
        interface: o.interface,
        log_level: o.logLevel,
      },
    });
  });

program
  .command('firstboot')
  .description('apply peerhub.toml from the boot partition once, then retire it without its secrets')
  .option('--boot-dir <dir>', 'where the FAT boot partition is mounted', '/boot/firmware')
  .option('--root <dir>', 'root of the system to configure (the running system is changed only for /)', '/')
  .option('--result <file>', 'result file (default <root>/var/lib/peerhub-firstboot/result.json)')
  .action(async (o: { bootDir: string; root: string; result?: string }) => {
    const { runFirstBoot } = await import('../firstboot/run.js');
    process.exitCode = await runFirstBoot(o);
  });

program
  .command('status')
  .description('this hub: identity, presence, mDNS names')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const s = await call<StatusView>(sock(), 'GET', '/v1/status');
    out(!!o.json, s, () => formatStatus(s));
  });

program
  .command('id')
  .description("print this hub's peer id and peer name")
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const s = await call<StatusView>(sock(), 'GET', '/v1/status');
    out(!!o.json, { id: s.id, peerName: s.peerName }, () => `${s.id}\n${s.peerName}`);
  });

program
  .command('peers')
  .description('People Near Me: hubs seen on the subnet')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const peers = await call<PeerRow[]>(sock(), 'GET', '/v1/peers');
    out(!!o.json, peers, () => formatPeers(peers));
  });

const presence = program.command('presence').description('set presence');
presence
  .command('set')
  .description(`set presence: ${PRESENCE_STATES.join(', ')}`)
  .addArgument(new Command().createArgument('<state>', 'presence state').choices(PRESENCE_STATES))
  .argument('[text...]', 'descriptive text')
  .option('--json', 'machine-readable output')
  .action(async (state: string, text: string[], o: { json?: boolean }) => {
    const body = text.length ? { status: state, text: text.join(' ') } : { status: state };
    const r = await call<{ status: string; text: string }>(sock(), 'PUT', '/v1/presence', body);
    out(!!o.json, r, () => `presence: ${r.status}${r.text ? ` — ${r.text}` : ''}`);
  });

program
  .command('signin')
  .description('sign in to People Near Me (and/or Internet)')
  .addArgument(
    new Command()
      .createArgument('[scope]', 'scope')
      .choices(SCOPES.filter((s) => s !== 'None'))
      .default('NearMe'),
  )
  .option('--json', 'machine-readable output')
  .action(async (scope: string, o: { json?: boolean }) => {
    const r = await call<{ scope: string }>(sock(), 'POST', '/v1/signin', { scope });
    out(!!o.json, r, () => `signed in: ${r.scope}`);
  });

program
  .command('signout')
  .description('sign out: say goodbye on the network')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const r = await call<{ scope: string }>(sock(), 'POST', '/v1/signout', {});
    out(!!o.json, r, () => 'signed out');
  });

/** Commands built apart do not inherit the program's settings: usage errors exit 2 with help. */
const inherit = (c: Command): Command => {
  c.exitOverride().showHelpAfterError();
  c.commands.forEach(inherit);
  return c;
};
program.addCommand(inherit(contactsCommand(sock, out)));
for (const c of collabCommands(sock, out)) program.addCommand(inherit(c));
for (const c of panelCommands(sock, out)) program.addCommand(inherit(c));
inviteCommands(program, sock, out);
sessionCommands(program, sock, out);

program
  .command('doctor')
  .description('check the hub: agent, mDNS, network, peers, clock, certificates, store, disk, panel')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    let checks: Check[];
    try {
      checks = await call<Check[]>(sock(), 'GET', '/v1/doctor');
    } catch (e) {
      if (!isPeerhubError(e, 'PH_ERR_AGENT_UNREACHABLE')) throw e;
      const hint =
        'start it: `systemctl start peerhub` (appliance) or `peerhub agent`; logs: `journalctl -u peerhub`';
      checks = [{ name: 'agent', status: 'fail', detail: (e as Error).message, hint }];
    }
    out(!!o.json, checks, () =>
      checks
        .map(
          (c) =>
            `${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(15)} ${c.detail}${c.hint ? `\n      → ${c.hint}` : ''}`,
        )
        .join('\n'),
    );
    if (worst(checks) === 'fail') process.exitCode = 1;
  });

program
  .command('watch')
  .description('follow events (peer found/changed/lost, presence…)')
  .addOption(new Option('--since <id>', 'replay buffered events after this id').argParser(Number))
  .option('--json', 'one JSON event per line')
  .action(async (o: { json?: boolean; since?: number }) => {
    const q = o.since === undefined ? '' : `?since=${o.since}`;
    await stream(sock(), `/v1/events${q}`, (ev) => {
      process.stdout.write((o.json ? JSON.stringify(ev) : formatEvent(ev as BusEvent)) + '\n');
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // help/version exit 0; usage errors exit 2 (commander already printed the message).
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (isPeerhubError(e) || e instanceof ApiCallError) {
    process.stderr.write(`peerhub: ${e.message}\n`);
    process.exitCode = isPeerhubError(e, 'PH_ERR_CONFIG_INVALID') ? 2 : 1;
  } else {
    process.stderr.write(`peerhub: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
