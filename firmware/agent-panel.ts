/**
 * The panel half of the composition root: open the board named by the config (`[panel] io`: auto, linux,
 * virtual), drive it from the agent's events. A panel that cannot open (overlay not loaded, device
 * permissions) is logged with what to do and the agent goes on without one.
 */
import { networkInterfaces } from 'node:os';
import { checkPins, DEFAULT_PANEL_CONFIG } from '../board/pins.js';
import type { Config } from './config/schema.js';
import type { Clock } from './core/clock.js';
import { PeerhubError } from './core/errors.js';
import type { Logger } from './core/logger.js';
import type { CollabControl } from './control/collab-types.js';
import type { PanelControl } from './control/panel-routes.js';
import type { LocalPresenceState } from './me/types.js';
import { driveBoard } from './panel/board-driver.js';
import type { HubStatus } from './panel/machine.js';
import { Panel } from './panel/panel.js';
import type { PresenceStatus } from './presence/types.js';

export interface AgentPanelDeps {
  config: Config;
  logger: Logger;
  clock: Clock;
  bus: ConstructorParameters<typeof Panel>[0]['bus'];
  localPresence(): LocalPresenceState;
  setPresence(status: PresenceStatus): Promise<unknown>;
  /** Faults the owner must act on (a first boot that failed): the status LED shows `fault` while any. */
  faults?(): string[];
}

export interface AgentPanel {
  control: PanelControl;
  /** The collaboration services came up: the buttons can answer. */
  attach(collab: CollabControl): void;
  ready(): void;
  close(): Promise<void>;
}

/** Is the hub on a network? An IPv4 address on the configured interface (or on any, when unset). */
export function networkUp(iface?: string): boolean {
  const all = networkInterfaces();
  const names = iface ? [iface] : Object.keys(all);
  return names.some((n) => (all[n] ?? []).some((a) => a.family === 'IPv4' && !a.internal));
}

export async function startPanel(deps: AgentPanelDeps): Promise<AgentPanel | null> {
  const { config, logger } = deps;
  const log = logger.child({ component: 'panel' });
  const checked = checkPins(config.panel ?? {}, DEFAULT_PANEL_CONFIG);
  if (!checked.ok) {
    log.error({ errors: checked.errors }, 'panel configuration invalid: running without a panel');
    return null;
  }
  const pins = checked.value;
  let opened;
  try {
    const { openBoard } = await import('../board/board.js');
    opened = await openBoard({ kind: pins.io, pins, logger: log });
  } catch (e) {
    log.error({ err: (e as Error).message }, 'panel not available: running without a panel');
    return null;
  }
  let collab: CollabControl | null = null;
  const panel = new Panel({
    clock: deps.clock,
    logger,
    bus: deps.bus,
    board: driveBoard(opened, pins.hold_ms),
    collab: () => collab,
    presence: () => {
      const s = deps.localPresence();
      return s.scope === 'None' ? null : s.status;
    },
    setPresence: deps.setPresence,
    health: (): HubStatus =>
      (deps.faults?.().length ?? 0) > 0 ? 'fault' : networkUp(config.interface) ? 'ready' : 'no-network',
  });
  panel.start();
  return {
    control: {
      view: () => panel.view(),
      press: (button, long) => panel.pressRemote(button, long),
      remotePressAllowed: () => opened.kind === 'virtual' || config.panel?.remote_press === true,
    },
    attach(c) {
      collab = c;
      panel.refresh();
    },
    ready: () => panel.ready(),
    close: () => panel.close(),
  };
}

/** The control API's answer when there is no panel. */
export function noPanel(reason: string): PanelControl {
  const fail = (): never => {
    throw new PeerhubError('PH_ERR_NOT_FOUND', `no panel on this hub: ${reason}`, { statusCode: 404 });
  };
  return { view: fail, press: async () => fail(), remotePressAllowed: () => true };
}
