/**
 * Published objects (DESIGN "The seed": Objects): GUID + data ≤ 16 KB + scope, published with presence.
 * Kept in `<dataDir>/objects.json`; subscribed contacts learn of changes through `object:changed`
 * (forwarded by the peer API) and fetch the views from `GET /v1/objects`.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Emitter } from '../presence/types.js';
import type { StoreFs } from '../store/index.js';
import {
  base64Size,
  checkBase64,
  checkGuid,
  checkObject,
  checkScope,
  checkTime,
  visibleScopes,
} from './apps-fields.js';
import { Registry } from './apps-registry.js';
import type { ObjectEvents, Objects, ObjectView, SharedObject, Visibility } from './apps-types.js';

export const MAX_OBJECTS = 64;

export interface ObjectsDeps {
  logger: Logger;
  clock: Clock;
  bus: Emitter<ObjectEvents>;
  fs?: StoreFs;
}

export interface ObjectsInit {
  /** `<dataDir>/objects.json` */
  file: string;
  /** Defaults to 64. */
  max?: number;
}

const INPUT_FIELDS = ['id', 'data', 'scope'] as const;
const STORED_FIELDS = [...INPUT_FIELDS, 'updatedAt'] as const;

export function checkObjectInput(x: unknown): Omit<SharedObject, 'updatedAt'> {
  const o = checkObject(x, 'object', INPUT_FIELDS);
  return { id: checkGuid(o.id), data: checkBase64(o.data), scope: checkScope(o.scope) };
}

export function checkSharedObject(x: unknown): SharedObject {
  const o = checkObject(x, 'object', STORED_FIELDS);
  for (const k of STORED_FIELDS) if (!(k in o)) throw new Error(`${k}: missing`);
  const { updatedAt, ...input } = o;
  return { ...checkObjectInput(input), updatedAt: checkTime(updatedAt, 'updatedAt') };
}

export function objectView(o: SharedObject): ObjectView {
  return { id: o.id, scope: o.scope, data: o.data, dataSize: base64Size(o.data), updatedAt: o.updatedAt };
}

class ObjectRegistry implements Objects {
  private readonly registry: Registry<SharedObject>;
  private readonly log: Logger;

  constructor(
    private readonly deps: ObjectsDeps,
    init: ObjectsInit,
  ) {
    this.log = deps.logger.child({ component: 'objects' });
    this.registry = new Registry<SharedObject>(
      { logger: this.log, clock: deps.clock, fs: deps.fs },
      {
        file: init.file,
        key: 'objects',
        noun: 'object',
        max: init.max ?? MAX_OBJECTS,
        fullCode: 'PH_ERR_OBJECTS_FULL',
        notFoundCode: 'PH_ERR_OBJECT_NOT_FOUND',
        check: checkSharedObject,
        changed: (change, o) => {
          this.log.info({ object: o.id, change, scope: o.scope }, `object ${change}`);
          this.deps.bus.emit('object:changed', { change, id: o.id });
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

  async set(input: unknown): Promise<SharedObject> {
    const o = checkObjectInput(input);
    return this.registry.put(o.id, () => ({ ...o, updatedAt: this.deps.clock.now() }));
  }

  delete(id: string): Promise<SharedObject> {
    return this.registry.remove(id);
  }

  get(id: string): SharedObject | undefined {
    return this.registry.get(id);
  }

  list(): SharedObject[] {
    return this.registry.list();
  }

  listFor(visibility: Visibility | readonly Visibility[]): ObjectView[] {
    const scopes = visibleScopes(visibility);
    return this.registry
      .list()
      .filter((o) => scopes.has(o.scope))
      .map(objectView);
  }
}

export function createObjects(deps: ObjectsDeps, init: ObjectsInit): Objects {
  return new ObjectRegistry(deps, init);
}
