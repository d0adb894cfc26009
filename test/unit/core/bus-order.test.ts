import t from 'tap';
import { EventBus } from '../../../firmware/core/bus.js';

t.test('an event emitted by a listener reaches every listener after the one that caused it', async (t) => {
  const bus = new EventBus<Record<string, unknown>>();
  bus.on('a', () => void bus.emit('b', {})); // a reaction, emitted mid-dispatch
  const typed: string[] = [];
  bus.on('b', () => void typed.push('b'));
  const stream: number[] = [];
  let last = 0;
  bus.onAny((ev) => {
    if (ev.id <= last) return; // what the event streams do: never write an id twice
    last = ev.id;
    stream.push(ev.id);
  });
  const a = bus.emit('a', {});
  t.same(stream, [a.id, a.id + 1], 'both reached the stream, in id order');
  t.same(typed, ['b'], 'typed listeners got the reaction too');
  t.same(
    bus.since(0).map((e) => e.type),
    ['a', 'b'],
    'history in id order',
  );
});
