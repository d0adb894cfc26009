/** board/: the panel hardware seam. The agent uses these factories and types, nothing deeper. */
export { openBoard, type OpenBoardOptions, type OpenedBoard } from './board.js';
export { BoardError, BoardErrorCodes, isBoardError, type BoardErrorCode } from './errors.js';
export { LinuxIO, LINUX_ROOTS, linuxLedsPresent, type LinuxIoOptions, type LinuxRoots } from './io/linux.js';
export {
  VirtualIO,
  type PanelSnapshot,
  type LedView,
  type ButtonView,
  type VirtualChange,
} from './io/virtual.js';
export {
  checkPins,
  DEFAULT_PANEL_CONFIG,
  DEFAULT_PINS,
  dtoverlayLine,
  KEY_CODES,
  overlayFor,
  overlayHint,
  PanelConfigSchema,
  type BoardKind,
  type KeyPin,
  type LedPin,
  type PanelConfig,
  type PinMap,
} from './pins.js';
export type { BoardLogger, LedState, PanelIO } from './types.js';
