/**
 * Run work after the I/O the current turn of the event loop started has gone out. Node flushes HTTP/2
 * frames (and some socket writes) from the check phase, in the order they were queued; a callback queued
 * with a single setImmediate can still run before a flush queued after it, so this waits two check
 * phases: whatever was written in this turn leaves first, and the deferred work (LED refresh, a
 * background file write) runs right after.
 */
export function afterIo(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}

/** afterIo as a promise. */
export function afterIoP(): Promise<void> {
  return new Promise((resolve) => afterIo(resolve));
}
