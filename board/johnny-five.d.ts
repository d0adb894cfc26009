/**
 * The part of johnny-five 2.1 that board/ uses (it ships no types; @types/johnny-five lacks `sigint`
 * and types `io` as any). CommonJS: `import five from 'johnny-five'`.
 */
declare module 'johnny-five' {
  import { EventEmitter } from 'node:events';

  namespace five {
    interface BoardOptions {
      io: EventEmitter;
      id?: string;
      repl?: boolean;
      debug?: boolean;
      sigint?: boolean;
      timeout?: number;
    }

    class Board extends EventEmitter {
      constructor(options: BoardOptions);
      readonly id: string;
      readonly io: EventEmitter;
      readonly isReady: boolean;
    }

    interface ComponentOptions {
      pin: string | number;
      board?: Board;
      id?: string;
    }

    class Led {
      constructor(options: ComponentOptions & { isAnode?: boolean });
      readonly pin: number;
      readonly isOn: boolean;
      readonly isRunning: boolean;
      readonly value: number | null;
      on(): this;
      off(): this;
      toggle(): this;
      /** A setInterval toggling the pin: prefer the IO's hardware blink. */
      blink(ms?: number): this;
      stop(): this;
    }

    type ButtonEvent = 'press' | 'down' | 'release' | 'up' | 'hold';

    class Button extends EventEmitter {
      constructor(options: ComponentOptions & { isPullup?: boolean; invert?: boolean; holdtime?: number });
      readonly pin: string | number;
      readonly isDown: boolean;
      holdtime: number;
      on(event: ButtonEvent, listener: () => void): this;
      once(event: ButtonEvent, listener: () => void): this;
    }
  }

  export = five;
}
