/** One lifecycle for every service (STYLE 2): start() idempotent, stop() clears timers and awaits close. */
export interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}
