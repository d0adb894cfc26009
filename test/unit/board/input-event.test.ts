import t from 'tap';
import {
  encodeInputEvent,
  encodeKeyFrame,
  EV_KEY,
  EV_SYN,
  InputEventDecoder,
  recordSizeFor,
  toKeyEvent,
} from '../../../board/input-event.js';

const BTN_0 = 0x100;

t.test('a record is 24 bytes, little-endian, in the kernel layout', async (t) => {
  const b = encodeInputEvent({ type: EV_KEY, code: BTN_0, value: 1, sec: 1_700_000_000, usec: 250_000 });
  t.equal(b.length, 24);
  t.equal(b.readBigInt64LE(0), 1_700_000_000n, 'tv_sec int64 at 0');
  t.equal(b.readBigInt64LE(8), 250_000n, 'tv_usec int64 at 8');
  t.equal(b.readUInt16LE(16), EV_KEY, 'type u16 at 16');
  t.equal(b.readUInt16LE(18), BTN_0, 'code u16 at 18');
  t.equal(b.readInt32LE(20), 1, 'value s32 at 20');
  t.same(new InputEventDecoder(24).push(b), [
    { sec: 1_700_000_000, usec: 250_000, type: EV_KEY, code: BTN_0, value: 1 },
  ]);
});

t.test('key frames decode to press / release / autorepeat; EV_SYN is ignored', async (t) => {
  const d = new InputEventDecoder(24);
  const stream = Buffer.concat([
    encodeKeyFrame(BTN_0, 1, 1000.5),
    encodeKeyFrame(BTN_0, 2, 1250),
    encodeKeyFrame(BTN_0, 0, 1500),
  ]);
  const events = d.push(stream);
  t.equal(events.length, 6, 'three EV_KEY + three EV_SYN records');
  t.same(events.filter((e) => e.type === EV_SYN).map(toKeyEvent), [undefined, undefined, undefined]);
  t.same(
    events.map(toKeyEvent).filter((k) => k !== undefined),
    [
      { code: BTN_0, action: 'press', timeMs: 1000 },
      { code: BTN_0, action: 'repeat', timeMs: 1250 },
      { code: BTN_0, action: 'release', timeMs: 1500 },
    ],
  );
  t.equal(toKeyEvent({ sec: 0, usec: 0, type: EV_KEY, code: BTN_0, value: 7 }), undefined, 'unknown value');
  t.equal(toKeyEvent({ sec: 0, usec: 0, type: 4, code: 4, value: 1 }), undefined, 'EV_MSC');
});

t.test('records split across chunks at every offset are kept until complete', async (t) => {
  const stream = Buffer.concat([encodeKeyFrame(BTN_0, 1, 10), encodeKeyFrame(0x101, 0, 20)]);
  const want = new InputEventDecoder(24).push(stream);
  const bad: number[] = [];
  for (let cut = 1; cut < stream.length; cut++) {
    const d = new InputEventDecoder(24);
    const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
    if (JSON.stringify(got) !== JSON.stringify(want) || d.pending !== 0) bad.push(cut);
  }
  t.same(bad, [], `every cut of ${stream.length} bytes decodes the same 4 records`);
  // One byte at a time, from a reused buffer (the decoder must copy what it keeps).
  const d = new InputEventDecoder(24);
  const scratch = Buffer.alloc(1);
  const got = [];
  for (const byte of stream) {
    scratch[0] = byte;
    got.push(...d.push(scratch));
  }
  t.same(got, want, 'byte by byte');
});

t.test('garbage length: the incomplete tail is pending, then dropped at end of stream', async (t) => {
  const d = new InputEventDecoder(24);
  const events = d.push(Buffer.concat([encodeKeyFrame(BTN_0, 1), Buffer.from([1, 2, 3, 4, 5, 6])]));
  t.equal(events.length, 2);
  t.equal(d.pending, 6);
  t.same(d.push(Buffer.alloc(0)), [], 'an empty chunk changes nothing');
  t.equal(d.end(), 6, 'end() reports the dropped bytes');
  t.equal(d.pending, 0);
  t.same(d.push(encodeKeyFrame(BTN_0, 0)).map(toKeyEvent)[0]?.action, 'release', 'usable after end()');
});

t.test('negative values and large timestamps survive', async (t) => {
  const e = { type: 3, code: 0, value: -42, sec: 2 ** 40, usec: 999_999 };
  t.same(new InputEventDecoder(24).push(encodeInputEvent(e)), [e]);
});

t.test('32-bit userspace: 16-byte records', async (t) => {
  t.equal(recordSizeFor('arm'), 16);
  t.equal(recordSizeFor('arm64'), 24);
  t.equal(recordSizeFor('x64'), 24);
  const frame = encodeKeyFrame(BTN_0, 1, 5000, 16);
  t.equal(frame.length, 32);
  const d = new InputEventDecoder(16);
  t.same(d.push(frame).map(toKeyEvent)[0], { code: BTN_0, action: 'press', timeMs: 5000 });
});
