import t from 'tap';
import { GROUP, MAX_RENAMES } from '../../../firmware/presence/avahi/constants.js';
import {
  initialPublishState,
  publishStep,
  type PublishEffect,
  type PublishEvent,
  type PublishState,
} from '../../../firmware/presence/avahi/publish-machine.js';
import { ann } from './fixtures/announcement.js';

/** Run events; return the final state and every effect, TXT shown as strings. */
function run(events: PublishEvent[], s: PublishState = initialPublishState()) {
  const effects: Array<Record<string, unknown>> = [];
  for (const ev of events) {
    const r = publishStep(s, ev);
    s = r.state;
    for (const fx of r.effects as PublishEffect[])
      effects.push('txt' in fx ? { ...fx, txt: fx.txt.map(String) } : { ...fx });
  }
  return { s, effects };
}

const established: PublishEvent = { type: 'group-state', state: GROUP.ESTABLISHED };
const collision: PublishEvent = { type: 'group-state', state: GROUP.COLLISION };

t.test('announce before the daemon is ready: published once it is', async (t) => {
  const { s, effects } = run([{ type: 'announce', a: ann() }]);
  t.same(effects, []);
  t.equal(s.label, 'Kitchen');
  const r = run([{ type: 'ready' }], s);
  t.same(r.effects, [
    {
      type: 'publish',
      label: 'Kitchen',
      port: 7443,
      txt: ['v=1', 'id=AAAA-BBBB-CCCC-DDDD', 'st=Online', 'seq=1'],
    },
  ]);
});

t.test('ESTABLISHED → announced once; TXT-only change → UpdateServiceTxt, not a re-add', async (t) => {
  const { effects, s } = run([
    { type: 'ready' },
    { type: 'announce', a: ann() },
    established,
    { type: 'announce', a: ann({ status: 'Busy', seq: 2 }) },
    established,
    { type: 'announce', a: ann({ status: 'Busy', seq: 2 }) }, // same TXT: nothing
  ]);
  t.same(
    effects.map((e) => e.type),
    ['publish', 'announced', 'update-txt'],
  );
  t.same(effects[1], { type: 'announced', instance: 'Kitchen' });
  t.same(effects[2], {
    type: 'update-txt',
    label: 'Kitchen',
    txt: ['v=1', 'id=AAAA-BBBB-CCCC-DDDD', 'st=Busy', 'seq=2'],
  });
  t.equal(s.established, true);
});

t.test('a new nickname or port re-adds the service', async (t) => {
  const { effects } = run([
    { type: 'ready' },
    { type: 'announce', a: ann() },
    established,
    { type: 'announce', a: ann({ nickname: 'Hall' }) },
    { type: 'announce', a: ann({ nickname: 'Hall', port: 8443 }) },
  ]);
  t.same(
    effects.map((e) => [e.type, e.label ?? e.instance, e.port]),
    [
      ['publish', 'Kitchen', 7443],
      ['announced', 'Kitchen', undefined],
      ['publish', 'Hall', 7443],
      ['publish', 'Hall', 8443],
    ],
  );
});

t.test('COLLISION → `Nick (2)`, then `Nick (3)`; announced under the new name', async (t) => {
  const { effects, s } = run([
    { type: 'ready' },
    { type: 'announce', a: ann() },
    collision,
    collision,
    established,
  ]);
  t.same(
    effects.map((e) => [e.type, e.label ?? e.to ?? e.instance]),
    [
      ['publish', 'Kitchen'],
      ['renamed', 'Kitchen (2)'],
      ['publish', 'Kitchen (2)'],
      ['renamed', 'Kitchen (3)'],
      ['publish', 'Kitchen (3)'],
      ['announced', 'Kitchen (3)'],
    ],
  );
  t.same(effects[1], { type: 'renamed', from: 'Kitchen', to: 'Kitchen (2)' });
  t.equal(s.renames, 0, 'reset once established');
  // The rename survives a status change, and a nickname change starts over from the nickname.
  const r = run([{ type: 'announce', a: ann({ seq: 2 }) }], s);
  t.same(
    r.effects.map((e) => [e.type, e.label]),
    [['update-txt', 'Kitchen (3)']],
  );
  const r2 = run([{ type: 'announce', a: ann({ nickname: 'Hall', seq: 3 }) }], r.s);
  t.same(
    r2.effects.map((e) => [e.type, e.label]),
    [['publish', 'Hall']],
  );
});

t.test('endless collisions give up (bounded) and retry later', async (t) => {
  const events: PublishEvent[] = [{ type: 'ready' }, { type: 'announce', a: ann() }];
  for (let i = 0; i <= MAX_RENAMES; i++) events.push(collision);
  const { effects, s } = run(events);
  t.equal(effects.filter((e) => e.type === 'renamed').length, MAX_RENAMES);
  t.same(effects.at(-1), { type: 'failed', error: `name taken ${MAX_RENAMES} times in a row`, retry: true });
  t.equal(s.committed, null);
  const r = run([{ type: 'retry' }], s);
  t.same(
    r.effects.map((e) => e.type),
    ['publish'],
  );
});

t.test('daemon gone and back: re-published, announced again', async (t) => {
  const { effects } = run([
    { type: 'ready' },
    { type: 'announce', a: ann() },
    established,
    { type: 'unready' },
    { type: 'announce', a: ann({ status: 'Away', seq: 2 }) }, // while gone: kept, not sent
    { type: 'ready' },
    established,
  ]);
  t.same(
    effects.map((e) => [e.type, (e as { txt?: string[] }).txt?.[2]]),
    [
      ['publish', 'st=Online'],
      ['announced', undefined],
      ['publish', 'st=Away'],
      ['announced', undefined],
    ],
  );
});

t.test('withdraw: Reset (goodbye) and withdrawn; signals for the old group are ignored', async (t) => {
  const { effects, s } = run([
    { type: 'ready' },
    { type: 'announce', a: ann() },
    established,
    { type: 'withdraw' },
    established,
    collision,
  ]);
  t.same(
    effects.map((e) => e.type),
    ['publish', 'announced', 'reset', 'withdrawn'],
  );
  t.equal(s.label, null);
  t.equal(s.ann, null);
  const again = run([{ type: 'announce', a: ann() }], s);
  t.same(
    again.effects.map((e) => e.type),
    ['publish'],
    'signing in again publishes',
  );
});

t.test(
  'FAILURE → failed with retry; retry re-publishes; an oversized TXT throws before any change',
  async (t) => {
    const { effects, s } = run([
      { type: 'ready' },
      { type: 'announce', a: ann() },
      { type: 'group-state', state: GROUP.FAILURE, error: 'Not permitted' },
    ]);
    t.same(effects.at(-1), { type: 'failed', error: 'Not permitted', retry: true });
    t.same(
      run([{ type: 'retry' }], s).effects.map((e) => e.type),
      ['publish'],
    );
    t.throws(() => publishStep(s, { type: 'announce', a: ann({ peerId: 'X'.repeat(300) }) }), RangeError);
  },
);
