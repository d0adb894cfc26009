import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { claimSocket, interfacesView, memoryMB, packageVersion, startupFigures } from './agent-support.js';
import type { AgentPanel } from './agent-panel.js';
import type { Trust, TrustEvents } from './agent-trust.js';
import { loadConfig, type LoadInput } from './config/load.js';
import type { Config } from './config/schema.js';
import { EventBus } from './core/bus.js';
import { systemClock, type Clock } from './core/clock.js';
import { isPeerhubError } from './core/errors.js';
import { createLogger, type Logger } from './core/logger.js';
import type { StartupView, StatusView } from './control/types.js';
// Not identity/index.js: the load path must not pull in node-forge (start-up time).
import { loadOrCreateIdentity } from './identity/files.js';
import { peerName } from './identity/peerid.js';
import type { Identity } from './identity/types.js';
import { firstBootErrors, readFirstBootResult } from './firstboot/result.js';
import type { FirstBootStatus } from './firstboot/types.js';
import { LocalPresence } from './me/local-presence.js';
import { onSubnet } from './me/machine.js';
import type { LocalPresenceEvents } from './me/types.js';
import { createPresence } from './presence/index.js';
import type { MdnsTransport } from './presence/transport.js';
import type { PresenceService } from './presence/types.js';

export type AgentEvents = TrustEvents & LocalPresenceEvents & { 'agent:ready': { id: string } & StartupView };

const STOP_DEADLINE_MS = 1800;
const ANNOUNCE_WAIT_MS = 3000;

function firstAnnouncement(bus: EventBus<AgentEvents>, maxMs: number): Promise<void> {
  if (maxMs <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      off();
      resolve();
    };
    const timer = setTimeout(done, maxMs);
    const off = bus.on('presence:announced', done);
  });
}

export interface Agent {
  readonly identity: Identity;
  readonly config: Config;
  readonly bus: EventBus<AgentEvents>;
  stop(): Promise<void>;
}

/** Edges a test may replace (an in-memory LAN instead of the mDNS socket). */
export interface AgentOverrides {
  transport?: MdnsTransport;
  /** Listen port of the peer API (0: any free port), when it must differ from the announced one. */
  peerListenPort?: number;
  /** The agent's clock (tests: a Pi without RTC that believes it is 1970). */
  clock?: Clock;
  /** Where `peerhub firstboot` leaves its result (default /var/lib/peerhub-firstboot/result.json). */
  firstBootResult?: string;
}

/** Composition root: config → services → start in order; stop in reverse. The only file that knows everyone. */
export async function startAgent(
  config: Config,
  logger: Logger,
  overrides: AgentOverrides = {},
): Promise<Agent> {
  const started = Date.now();
  const clock = overrides.clock ?? systemClock;
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const bus = new EventBus<AgentEvents>(clock.now);

  const { identity } = await loadOrCreateIdentity(
    { now: clock.now, logger: logger.child({ component: 'identity' }) },
    { dataDir: config.data_dir },
  );

  const presence: PresenceService = await createPresence(
    { clock, logger: logger.child({ component: 'presence' }), bus, transport: overrides.transport },
    {
      backend: config.presence.backend,
      interface: config.interface,
      hostname: config.presence.hostname,
      ttlHost: config.presence.ttl_host,
      ttlService: config.presence.ttl_service,
    },
  );
  const me = await LocalPresence.open(
    { logger: logger.child({ component: 'me' }), bus, presence },
    {
      file: join(config.data_dir, 'state.json'),
      nickname: config.nickname,
      peerId: identity.peerId,
      port: config.port,
    },
  );

  const version = packageVersion();
  const ready: { figures?: StartupView } = {}; // set at ready
  const status = (): StatusView => {
    const names = presence.names();
    const s = me.state;
    return {
      id: identity.peerId,
      shortId: identity.shortId,
      peerName: peerName(identity.peerId, config.classifier),
      nickname: config.nickname,
      classifier: config.classifier,
      scope: s.scope,
      presence: { status: s.status, text: s.text, seq: s.seq },
      mdns: {
        backend: presence.backend,
        instance: names.instance,
        host: names.host,
        interface: config.interface ?? null,
      },
      port: config.port,
      version,
      pid: process.pid,
      uptimeMs: Date.now() - started,
      ...(ready.figures ? { startup: ready.figures } : {}),
      counters: { ...presence.counters(), ...(trust?.counters() ?? {}) },
      memory: memoryMB(),
      interfaces: interfacesView(),
      ...(trust ? { counts: trust.counts() } : {}),
    };
  };

  // The first boot ran before the agent (peerhub-firstboot.service): its errors are a fault to show.
  const firstBoot = (): FirstBootStatus | null => readFirstBootResult(overrides.firstBootResult);
  const failedBoot = firstBootErrors(firstBoot());
  if (failedBoot.length > 0) logger.warn({ errors: failedBoot }, 'first boot reported errors');

  const stops: Array<[string, () => Promise<void>]> = [];
  let trust: Trust | null = null;
  let panel: AgentPanel | null = null;
  let panelP: Promise<AgentPanel | null> | null = null;
  await claimSocket(config.control_socket); // before anything goes on the network
  try {
    await presence.start();
    stops.push(['presence', () => presence.stop()]);
    me.start(); // probing starts now
    stops.push(['me', () => me.stop()]);
    // Loading the rest (TLS, HTTP) takes the CPU for a few hundred ms: let RFC 6762's probes and the
    // first announcement go out on time first, so a hub is seen about a second after it starts.
    await firstAnnouncement(bus, onSubnet(me.state.scope) ? ANNOUNCE_WAIT_MS : 0);
    // The panel opens alongside the trust half (its status LED shows "booting" until the agent is ready).
    const { startPanel, noPanel } = await import('./agent-panel.js');
    panelP = startPanel({
      config,
      logger,
      clock,
      bus,
      localPresence: () => me.state,
      setPresence: (st) => me.set(st, me.state.text),
      faults: () => firstBootErrors(firstBoot()),
    });
    const { startTrust } = await import('./agent-trust.js');
    trust = await startTrust({
      config,
      logger,
      clock,
      bus,
      identity,
      presence,
      localPresence: () => me.state,
      peerListenPort: overrides.peerListenPort,
    });
    stops.push(...trust.stops);
    panel = await panelP;
    if (panel) {
      const p = panel;
      stops.push(['panel', () => p.close()]);
      p.attach(trust.collaboration);
    }
    const { buildControlApi } = await import('./control/app.js');
    const control = buildControlApi({
      logger: logger.child({ component: 'control' }),
      events: bus,
      status,
      peers: trust.peers,
      contacts: trust.contacts,
      collab: trust.collab,
      collaboration: trust.collaboration,
      panel: panel?.control ?? noPanel('it could not be opened (see the log)'),
      setPresence: (st, text) => me.set(st, text),
      signIn: (scope) => me.signIn(scope),
      signOut: () => me.signOut(),
    });
    const t = trust;
    control.get('/v1/doctor', async () => {
      const { doctorFacts } = await import('./doctor/gather.js');
      const { evaluate } = await import('./doctor/checks.js');
      return evaluate(
        doctorFacts({ config, identity, clock, status, trust: t, panel, firstBoot: firstBoot() }),
      );
    });
    await control.listen({ path: config.control_socket });
    chmodSync(config.control_socket, 0o660);
    stops.push(['control', async () => void (await control.close())]);
  } catch (e) {
    for (const [, stop] of stops.reverse()) await stop().catch(() => undefined);
    if (!panel) await (await panelP?.catch(() => null))?.close(); // opened, not yet handed over
    throw e;
  }
  const figures = startupFigures();
  ready.figures = figures;
  bus.emit('agent:ready', { id: identity.peerId, ...figures });
  panel?.ready();
  logger.info(
    {
      id: identity.shortId,
      socket: config.control_socket,
      port: config.port,
      host: presence.names().host,
      ...figures,
    },
    'agent ready',
  );

  return {
    identity,
    config,
    bus,
    async stop() {
      // Goodbye first (RFC 6762 §10.1): peers drop us at once, not after our servers have closed.
      if (stops.length > 0) await presence.withdraw().catch(() => undefined);
      for (const [name, stop] of [...stops].reverse()) {
        try {
          await stop();
        } catch (e) {
          logger.warn({ service: name, err: (e as Error).message }, 'stop failed');
        }
      }
      stops.length = 0;
    },
  };
}

/** `peerhub agent`: run in the foreground until SIGTERM/SIGINT. Returns the exit code. */
export async function runAgent(input: LoadInput): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(input);
  } catch (e) {
    process.stderr.write(`peerhub: ${(e as Error).message}\n`);
    return 2;
  }
  const logger = createLogger(config.log_level);
  // Under systemd (Type=notify, WatchdogSec=): READY=1, watchdog pings, STOPPING=1. Inert elsewhere.
  const { createSdNotifier } = await import('./core/sd-notify.js');
  const systemd = createSdNotifier({ logger: logger.child({ component: 'systemd' }) });
  let agent: Agent;
  try {
    agent = await startAgent(config, logger);
  } catch (e) {
    const code = isPeerhubError(e) ? e.code : 'PH_ERR_INTERNAL';
    logger.error({ code, err: (e as Error).message }, 'agent failed to start');
    process.stderr.write(`peerhub: ${(e as Error).message}\n`);
    systemd.status(`failed to start: ${(e as Error).message}`);
    await systemd.close();
    return 1;
  }
  systemd.ready(`ready: peer ${agent.identity.shortId}, control socket ${config.control_socket}`);
  systemd.startWatchdog();
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      const stopped = agent.stop(); // the goodbye leaves before anything else is done, the log line too
      logger.info({ signal: sig }, 'stopping');
      systemd.stopping('stopping');
      const deadline = setTimeout(() => {
        logger.warn({ deadlineMs: STOP_DEADLINE_MS }, 'stop deadline passed; exiting');
        process.exit(0);
      }, STOP_DEADLINE_MS);
      void stopped.then(async () => {
        clearTimeout(deadline);
        logger.info({}, 'stopped');
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await systemd.close(500);
        resolve(0);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
