/**
 * Linux `struct input_event` codec (linux/input.h), pure.
 *
 * On 64-bit userspace (the appliance: arm64) a record is 24 bytes, little-endian:
 *   tv_sec int64 | tv_usec int64 | type u16 | code u16 | value s32
 * On 32-bit userspace (armhf) the two time fields are 32-bit: 16 bytes. The size follows the
 * architecture of the process reading the device.
 */

export const EV_SYN = 0x00;
export const EV_KEY = 0x01;
export const SYN_REPORT = 0;

/** EV_KEY values. */
export const KEY_RELEASE = 0;
export const KEY_PRESS = 1;
export const KEY_REPEAT = 2;

export type RecordSize = 16 | 24;

export function recordSizeFor(arch: string = process.arch): RecordSize {
  return arch === 'arm' || arch === 'ia32' ? 16 : 24;
}

export interface InputEvent {
  sec: number;
  usec: number;
  type: number;
  code: number;
  value: number;
}

export type KeyAction = 'press' | 'release' | 'repeat';

export interface KeyEvent {
  code: number;
  action: KeyAction;
  /** Kernel timestamp of the event, milliseconds. */
  timeMs: number;
}

export function encodeInputEvent(
  e: { type: number; code: number; value: number; sec?: number; usec?: number },
  size: RecordSize = 24,
): Buffer {
  const b = Buffer.alloc(size);
  const half = size === 24 ? 8 : 4;
  if (half === 8) {
    b.writeBigInt64LE(BigInt(e.sec ?? 0), 0);
    b.writeBigInt64LE(BigInt(e.usec ?? 0), 8);
  } else {
    b.writeInt32LE(e.sec ?? 0, 0);
    b.writeInt32LE(e.usec ?? 0, 4);
  }
  b.writeUInt16LE(e.type, 2 * half);
  b.writeUInt16LE(e.code, 2 * half + 2);
  b.writeInt32LE(e.value, 2 * half + 4);
  return b;
}

/** What gpio-keys sends for one key change: the EV_KEY record and its EV_SYN/SYN_REPORT. */
export function encodeKeyFrame(code: number, value: number, timeMs = 0, size: RecordSize = 24): Buffer {
  const sec = Math.floor(timeMs / 1000);
  const usec = Math.round((timeMs - sec * 1000) * 1000);
  return Buffer.concat([
    encodeInputEvent({ type: EV_KEY, code, value, sec, usec }, size),
    encodeInputEvent({ type: EV_SYN, code: SYN_REPORT, value: 0, sec, usec }, size),
  ]);
}

function decodeAt(b: Buffer, at: number, size: RecordSize): InputEvent {
  const half = size === 24 ? 8 : 4;
  const sec = half === 8 ? Number(b.readBigInt64LE(at)) : b.readInt32LE(at);
  const usec = half === 8 ? Number(b.readBigInt64LE(at + 8)) : b.readInt32LE(at + 4);
  return {
    sec,
    usec,
    type: b.readUInt16LE(at + 2 * half),
    code: b.readUInt16LE(at + 2 * half + 2),
    value: b.readInt32LE(at + 2 * half + 4),
  };
}

/**
 * Streaming decoder: a read may end in the middle of a record (a pipe, a FIFO); the partial record is
 * kept until the rest arrives.
 */
export class InputEventDecoder {
  private partial: Buffer = Buffer.alloc(0);

  constructor(readonly size: RecordSize = recordSizeFor()) {}

  push(chunk: Buffer): InputEvent[] {
    const b = this.partial.length === 0 ? chunk : Buffer.concat([this.partial, chunk]);
    const whole = b.length - (b.length % this.size);
    const out: InputEvent[] = [];
    for (let at = 0; at < whole; at += this.size) out.push(decodeAt(b, at, this.size));
    // Copy the tail: the caller's buffer may be reused.
    this.partial = Buffer.from(b.subarray(whole));
    return out;
  }

  /** Bytes of an incomplete record waiting for the rest. */
  get pending(): number {
    return this.partial.length;
  }

  /** End of stream: drop (and return the size of) an incomplete trailing record. */
  end(): number {
    const n = this.partial.length;
    this.partial = Buffer.alloc(0);
    return n;
  }
}

/** EV_KEY records become key events; EV_SYN and everything else (EV_MSC scan codes…) are ignored. */
export function toKeyEvent(e: InputEvent): KeyEvent | undefined {
  if (e.type !== EV_KEY) return undefined;
  const action: KeyAction | undefined =
    e.value === KEY_PRESS
      ? 'press'
      : e.value === KEY_RELEASE
        ? 'release'
        : e.value === KEY_REPEAT
          ? 'repeat'
          : undefined;
  if (action === undefined) return undefined;
  return { code: e.code, action, timeMs: e.sec * 1000 + Math.floor(e.usec / 1000) };
}
