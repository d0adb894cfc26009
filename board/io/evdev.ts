/**
 * Reading a gpio-keys input device (/dev/input/eventN).
 *
 * Why a `cat` child and not a FileHandle read loop: a read on a character device blocks a libuv
 * threadpool thread until the next event and cannot be cancelled. `FileHandle.close()` waits for the
 * pending read, and a pending read keeps the event loop alive: measured here on a FIFO with an idle
 * writer, `close()` had not resolved and the process had not exited after 5 s — on a hub that means
 * until someone presses a button. A pipe from `cat` is read through epoll (no threadpool thread, no
 * wake-ups) and killing `cat` ends it at once. The bytes are the device's own `input_event` records
 * either way, and a FIFO in the tests takes exactly this path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { InputEventDecoder, toKeyEvent, type KeyEvent, type RecordSize } from '../input-event.js';

/**
 * The event handler (`eventN`) of the input device called `name` in /proc/bus/input/devices:
 *   N: Name="peerhub-keys"
 *   H: Handlers=kbd event0
 */
export function findInputHandler(procDevices: string, name: string): string | undefined {
  for (const block of procDevices.split(/\n\s*\n/)) {
    const n = /^N: Name="(.*)"\s*$/m.exec(block);
    if (n?.[1] !== name) continue;
    const h = /^H: Handlers=(.*)$/m.exec(block);
    const ev = h?.[1]?.split(/\s+/).find((x) => /^event\d+$/.test(x));
    if (ev !== undefined) return ev;
  }
  return undefined;
}

export interface EvdevReaderEvents {
  key: [KeyEvent];
  /** The stream ended while open (device removed, EOF, read error): once. */
  end: [reason: string];
}

export class EvdevReader extends EventEmitter<EvdevReaderEvents> {
  private child: ChildProcess | undefined;
  private closing = false;
  private ended = false;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly recordSize?: RecordSize,
  ) {
    super();
  }

  start(): void {
    if (this.child !== undefined) return;
    const decoder = new InputEventDecoder(this.recordSize);
    const child = spawn('cat', ['--', this.path], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    // Listening for buttons is no reason to keep a process alive (a forgotten close() must not hang it),
    // and the reader must not outlive the process.
    child.unref();
    (child.stdout as Socket | null)?.unref();
    (child.stderr as Socket | null)?.unref();
    const onExit = (): void => void child.kill('SIGKILL');
    process.once('exit', onExit);
    child.once('close', () => process.off('exit', onExit));
    let stderr = '';
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      if (this.closing) return;
      for (const e of decoder.push(chunk)) {
        const k = toKeyEvent(e);
        if (k !== undefined) this.emit('key', k);
      }
    });
    child.stderr?.on('data', (c: Buffer) => void (stderr = (stderr + c.toString('utf8')).slice(-500)));
    child.once('error', (err) => this.finish(`cannot read ${this.path}: ${err.message}`));
    child.once('close', (code, signal) => {
      const trailing = decoder.end();
      const why =
        stderr.trim().replace(/^cat: /, '') ||
        (signal !== null
          ? `reader killed by ${signal}`
          : code === 0
            ? 'end of stream'
            : `reader exited ${code}`);
      this.finish(trailing > 0 ? `${why} (${trailing} bytes of a partial record dropped)` : why);
    });
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.closing) this.emit('end', reason);
  }

  /** Stop reading; resolves when the reader has exited (at most `deadlineMs`). */
  async close(deadlineMs = 2000): Promise<void> {
    if (this.closing) return this.exited;
    this.closing = true;
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    // Hold the process until the reader is gone (its handles are unref'd while it only listens).
    child.ref();
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exited,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, deadlineMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
