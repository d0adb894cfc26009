/**
 * A launched application's stdout or stderr: logged one line per output line (up to a byte budget),
 * with the last characters kept for the launch result.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from '../core/logger.js';

/** Longer lines are logged in pieces of this many characters. */
export const MAX_LINE_CHARS = 4096;

export class OutputSink {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private tailText = '';
  private logged = 0;
  private truncated = false;
  /** Bytes received, logged or not. */
  bytes = 0;

  constructor(
    private readonly log: Logger,
    private readonly fields: { app: string; stream: 'stdout' | 'stderr' },
    private readonly limit: number,
    private readonly tailChars: number,
  ) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.add(this.decoder.write(chunk));
  }

  /** Flush a last line without a newline. */
  end(): void {
    this.add(this.decoder.end());
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  get tail(): string {
    return this.tailText;
  }

  private add(text: string): void {
    if (!text) return;
    this.tailText = (this.tailText + text).slice(-this.tailChars);
    const lines = (this.partial + text).split('\n');
    let rest = lines.pop() ?? '';
    for (const l of lines) {
      for (let i = 0; i === 0 || i < l.length; i += MAX_LINE_CHARS) this.line(l.slice(i, i + MAX_LINE_CHARS));
    }
    while (rest.length > MAX_LINE_CHARS) {
      this.line(rest.slice(0, MAX_LINE_CHARS));
      rest = rest.slice(MAX_LINE_CHARS);
    }
    this.partial = rest;
  }

  private line(raw: string): void {
    if (this.truncated) return;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const size = Buffer.byteLength(line) + 1;
    if (this.logged + size > this.limit) {
      this.truncated = true;
      this.log.warn({ ...this.fields, limit: this.limit }, 'application output over the limit: not logged');
      return;
    }
    this.logged += size;
    this.log.info({ ...this.fields, line }, 'application output');
  }
}
