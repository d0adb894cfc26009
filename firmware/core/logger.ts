import { pino, stdTimeFunctions, type DestinationStream, type Logger as Pino } from 'pino';

/** Structured, one line per event (journald collects stdout). Keys are never logged. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: { component: string } & Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(level: LogLevel = 'info', dest: NodeJS.WritableStream = process.stdout): Logger {
  const root = pino(
    {
      level,
      base: { app: 'peerhub' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
      redact: { paths: ['key', 'privateKey', '*.key', '*.privateKey', 'keyPem', '*.keyPem'], remove: true },
    },
    dest as DestinationStream,
  );
  // pino appends a child's bindings to its parent's, so a component handed a logger that already names
  // a component (the agent's `tls` given to the certificate manager's `tls-certificates`) would print
  // the key twice in one JSON line. A child is made from the root with the bindings merged instead:
  // one key each, the innermost value wins.
  const own = (p: Pino): Record<string, unknown> => {
    const { app: _base, ...rest } = p.bindings(); // the root's base is printed by the root itself
    return rest;
  };
  const wrap = (p: Pino): Logger =>
    Object.assign(Object.create(p) as Pino, {
      child: (b: Record<string, unknown>) => wrap(root.child({ ...own(p), ...b })),
    }) as unknown as Logger;
  return wrap(root);
}

/** A logger that drops everything, or records lines for assertions. */
export function silentLogger(lines?: Array<Record<string, unknown>>): Logger {
  const make = (bindings: Record<string, unknown>): Logger => {
    const rec =
      (level: string) =>
      (obj: object, msg?: string): void => {
        lines?.push({ level, ...bindings, ...obj, ...(msg === undefined ? {} : { msg }) });
      };
    return {
      debug: rec('debug'),
      info: rec('info'),
      warn: rec('warn'),
      error: rec('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return make({});
}
