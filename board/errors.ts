/**
 * Errors of the hardware seam. Same shape as the agent's catalog (`{ code, message, statusCode }`, `cause`
 * kept) so the agent can report them as they are; board/ imports nothing from firmware/.
 */
export const BoardErrorCodes = {
  PH_ERR_BOARD_CONFIG_INVALID: 'invalid panel pin configuration',
  PH_ERR_BOARD_NO_LEDS: 'panel LEDs not found (device-tree overlay not loaded)',
  PH_ERR_BOARD_NO_KEYS: 'panel buttons not found (device-tree overlay not loaded)',
  PH_ERR_BOARD_ACCESS: 'panel device not accessible',
  PH_ERR_BOARD_INPUT_GONE: 'panel button device disappeared',
  PH_ERR_BOARD_PIN_UNKNOWN: 'no such panel pin',
  PH_ERR_BOARD_NOT_READY: 'the board did not become ready',
} as const;

export type BoardErrorCode = keyof typeof BoardErrorCodes;

export class BoardError extends Error {
  readonly code: BoardErrorCode;
  readonly statusCode: number;

  constructor(code: BoardErrorCode, message?: string, opts: { statusCode?: number; cause?: unknown } = {}) {
    super(message ?? BoardErrorCodes[code], opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BoardError';
    this.code = code;
    this.statusCode = opts.statusCode ?? 503;
  }

  toJSON(): { code: BoardErrorCode; message: string; statusCode: number } {
    return { code: this.code, message: this.message, statusCode: this.statusCode };
  }
}

export function isBoardError(e: unknown, code?: BoardErrorCode): e is BoardError {
  return e instanceof BoardError && (code === undefined || e.code === code);
}
