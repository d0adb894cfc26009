/** The panel shell on a real event bus: it never makes a stream listener skip an event. */
import t from 'tap';
import { EventBus } from '../../../firmware/core/bus.js';
import { afterIoP } from '../../../firmware/core/defer.js';
import { systemClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { Panel, type PanelBoard } from '../../../firmware/panel/panel.js';

t.test(
  'a panel:changed emitted in answer to an event does not hide that event from later listeners',
  async (t) => {
    const bus = new EventBus<Record<string, unknown>>();
    const shown: string[] = [];
    const board: PanelBoard = {
      kind: 'virtual',
      show: (led, p) => void shown.push(`${led}:${p.state}`),
      onButton: () => undefined,
      buttons: () => [],
      close: async () => undefined,
    };
    let presence: 'Online' | 'Away' = 'Online';
    const panel = new Panel({
      clock: systemClock,
      logger: silentLogger(),
      bus,
      board,
      collab: () => null,
      presence: () => presence,
      setPresence: async () => undefined,
      health: () => 'ready',
    });
    panel.start(); // subscribes first, like the agent (before any control API stream)
    panel.ready();
    // What the control API's /v1/events stream does: skip ids it has already written.
    const seen: number[] = [];
    let last = bus.lastId;
    bus.onAny((ev) => {
      if (ev.id <= last) return;
      last = ev.id;
      seen.push(ev.id);
    });
    const first = bus.lastId + 1;
    for (let i = 0; i < 3; i++) {
      presence = presence === 'Online' ? 'Away' : 'Online';
      bus.emit('presence:changed', { status: presence });
      await afterIoP(); // the panel refreshes once the event's I/O is out
    }
    t.ok(shown.includes('presence:blink'), 'the presence LED followed');
    t.same(
      seen,
      Array.from({ length: bus.lastId - first + 1 }, (_, i) => first + i),
      'every event reached the stream, in order, none skipped',
    );
    t.ok(
      bus.since(first - 1).some((e) => e.type === 'panel:changed'),
      'panel:changed was emitted',
    );
    await panel.close();
  },
);
