/**
 * The application registry (DESIGN "The seed": Applications): at most 64 applications kept in
 * `<dataDir>/applications.json`. Invitations name one by GUID; accepting launches its command (see
 * launcher.ts). Other hubs only ever see views without the command and its arguments.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Emitter } from '../presence/types.js';
import type { StoreFs } from '../store/index.js';
import {
  base64Size,
  checkArgs,
  checkBase64,
  checkCommand,
  checkGuid,
  checkObject,
  checkScope,
  checkText,
  checkTime,
  MAX_DESCRIPTION,
  visibleScopes,
} from './apps-fields.js';
import { Registry } from './apps-registry.js';
import type {
  Application,
  ApplicationEvents,
  Applications,
  ApplicationView,
  Visibility,
} from './apps-types.js';

export const MAX_APPLICATIONS = 64;

export interface ApplicationsDeps {
  logger: Logger;
  clock: Clock;
  bus: Emitter<ApplicationEvents>;
  fs?: StoreFs;
}

export interface ApplicationsInit {
  /** `<dataDir>/applications.json` */
  file: string;
  /** Defaults to 64 (the seed's limit). */
  max?: number;
}

const INPUT_FIELDS = ['id', 'description', 'data', 'command', 'args', 'scope'] as const;
const STORED_FIELDS = [...INPUT_FIELDS, 'registeredAt', 'updatedAt'] as const;

/** What register() accepts: checked field by field, defaults filled in (times left to the registry). */
export function checkApplicationInput(x: unknown): Omit<Application, 'registeredAt' | 'updatedAt'> {
  const o = checkObject(x, 'application', INPUT_FIELDS);
  return {
    id: checkGuid(o.id),
    description: checkText(o.description, 'description', MAX_DESCRIPTION, ''),
    data: checkBase64(o.data),
    command: checkCommand(o.command),
    args: checkArgs(o.args),
    scope: checkScope(o.scope),
  };
}

/** A stored application (store validation: every field present). */
export function checkApplication(x: unknown): Application {
  const o = checkObject(x, 'application', STORED_FIELDS);
  for (const k of STORED_FIELDS) if (!(k in o)) throw new Error(`${k}: missing`);
  const { registeredAt, updatedAt, ...input } = o;
  return {
    ...checkApplicationInput(input),
    registeredAt: checkTime(registeredAt, 'registeredAt'),
    updatedAt: checkTime(updatedAt, 'updatedAt'),
  };
}

export function applicationView(a: Application): ApplicationView {
  return { id: a.id, description: a.description, scope: a.scope, dataSize: base64Size(a.data) };
}

/** The reason an invitation naming an application this hub does not have is declined with. */
export function unknownApplication(appId: string): string {
  return `application ${appId} is not registered on this hub`;
}

class ApplicationRegistry implements Applications {
  private readonly registry: Registry<Application>;
  private readonly log: Logger;

  constructor(
    private readonly deps: ApplicationsDeps,
    init: ApplicationsInit,
  ) {
    this.log = deps.logger.child({ component: 'applications' });
    this.registry = new Registry<Application>(
      { logger: this.log, clock: deps.clock, fs: deps.fs },
      {
        file: init.file,
        key: 'applications',
        noun: 'application',
        max: init.max ?? MAX_APPLICATIONS,
        fullCode: 'PH_ERR_APPS_FULL',
        notFoundCode: 'PH_ERR_APP_NOT_FOUND',
        check: checkApplication,
        changed: (change, a) => {
          this.log.info({ app: a.id, change, scope: a.scope }, `application ${change}`);
          this.deps.bus.emit('application:changed', { change, id: a.id });
        },
      },
    );
  }

  open(): Promise<void> {
    return this.registry.open();
  }

  close(): Promise<void> {
    return this.registry.close();
  }

  async register(input: unknown): Promise<Application> {
    const a = checkApplicationInput(input);
    return this.registry.put(a.id, (old) => {
      const now = this.deps.clock.now();
      return { ...a, registeredAt: old?.registeredAt ?? now, updatedAt: now };
    });
  }

  unregister(id: string): Promise<Application> {
    return this.registry.remove(id);
  }

  get(id: string): Application | undefined {
    return this.registry.get(id);
  }

  list(): Application[] {
    return this.registry.list();
  }

  listFor(visibility: Visibility | readonly Visibility[]): ApplicationView[] {
    const scopes = visibleScopes(visibility);
    return this.registry
      .list()
      .filter((a) => scopes.has(a.scope))
      .map(applicationView);
  }
}

export function createApplications(deps: ApplicationsDeps, init: ApplicationsInit): Applications {
  return new ApplicationRegistry(deps, init);
}
