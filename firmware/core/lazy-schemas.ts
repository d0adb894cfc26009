/**
 * Route schemas compiled when a route is first used, not when the app is built. fastify compiles every
 * route's validators (Ajv) and response serializers (fast-json-stringify) while the routes are
 * registered: ≈ 120 ms of the agent's start-up CPU for the control and peer APIs, most of which a hub
 * never needs again (a route that is never called), and a cost paid 100 times over when 100 hubs start
 * together on one machine. Here the same compilers (fastify's own, with the same options) are built on
 * the first request of each route, so a request is validated and a reply serialised exactly as before.
 *
 * A schema fastify cannot compile would only fail on that route's first request: the apps' unit tests
 * build each app with `eager` (fastify's default compilers) and wait for `ready()`, which compiles them all.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidatorFactory = NonNullable<Factories['buildValidator']>;
type SerializerFactory = NonNullable<Factories['buildSerializer']>;
/** An Ajv validate function: fastify reads `errors` off it after a failed call. */
type Validate = ((data: unknown) => unknown) & { errors?: unknown };
/**
 * What @fastify/ajv-compiler's pool really is at run time: its type definitions describe the compiler
 * as taking a bare schema, where fastify hands it the route definition ({ schema, method, url, httpPart }).
 */
type ValidatorPool = (externalSchemas: unknown, options: unknown) => (route: unknown) => Validate;

/** fastify's validator factory, deferred: Ajv is made on the first validation of any route. */
function lazyValidators(): ValidatorFactory {
  const pool = AjvCompiler() as unknown as ValidatorPool;
  const factory: ValidatorPool = (externalSchemas, options) => {
    let compiler: ((route: unknown) => Validate) | undefined;
    return (route) => {
      let fn: Validate | undefined;
      const validate: Validate = (data) => {
        fn ??= (compiler ??= pool(externalSchemas, options))(route);
        const ok = fn(data);
        validate.errors = fn.errors;
        return ok;
      };
      return validate;
    };
  };
  return factory as unknown as ValidatorFactory;
}

/** fastify's serializer factory (fast-json-stringify), deferred to each route's first reply. */
function lazySerializers(): SerializerFactory {
  const pool = SerializerSelector();
  return (externalSchemas, options) => {
    let compiler: ReturnType<SerializerFactory> | undefined;
    return (route) => {
      let fn: ((doc: unknown) => string) | undefined;
      return (doc) => (fn ??= (compiler ??= pool(externalSchemas, options))(route))(doc);
    };
  };
}

/**
 * The `schemaController` option for a fastify app whose schemas compile on first use; `eager` gives
 * fastify's defaults (everything compiled at `ready()`), for the tests that check the schemas compile.
 */
export function schemaController(eager = false): FastifyServerOptions['schemaController'] {
  if (eager) return undefined;
  return { compilersFactory: { buildValidator: lazyValidators(), buildSerializer: lazySerializers() } };
}
