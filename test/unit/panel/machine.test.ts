/** The panel's pattern table, row by row, and its buttons, with the time as an argument. */
import t from 'tap';
import {
  leds,
  nextChange,
  nextPresence,
  onButton,
  PANEL_TIMING as T,
  PATTERNS as P,
  type PanelInputs,
  type Waiting,
} from '../../../firmware/panel/machine.js';

const NOW = 1_800_000_000_000;
const idle: PanelInputs = {
  status: 'ready',
  presence: 'Online',
  waiting: [],
  outPending: 0,
  outLastClosedAt: null,
  flash: null,
};
const w = (
  id: string,
  createdAt: number,
  expiresIn: number,
  kind: Waiting['kind'] = 'invitation',
): Waiting => ({
  kind,
  id,
  createdAt,
  expiresAt: NOW + expiresIn,
});

t.test('invite LED', async (t) => {
  t.same(leds(idle, NOW).invite, { state: 'off' }, 'nothing going on: off');
  const waiting = { ...idle, waiting: [w('a', NOW - 1000, 120_000)] };
  t.same(leds(waiting, NOW).invite, P.inviteWaiting, 'an invitation waits: blinks');
  t.same(leds(waiting, NOW + 120_000 - T.urgentMs).invite, P.inviteUrgent, 'faster in its last 30 s');
  t.same(leds(waiting, NOW + 120_000).invite, { state: 'off' }, 'expired: no longer waiting');
  const hostReq = { ...idle, waiting: [w('h', NOW, 60_000, 'host-request')] };
  t.same(leds(hostReq, NOW).invite, P.inviteWaiting, 'a host request waiting for the owner blinks too');

  const accepted = { ...idle, flash: { outcome: 'accepted' as const, at: NOW } };
  t.same(leds(accepted, NOW).invite, P.outcomeAccepted, 'accepted: solid');
  t.same(leds(accepted, NOW + T.flashMs).invite, { state: 'off' }, '… briefly');
  for (const outcome of ['declined', 'expired', 'cancelled', 'failed'] as const) {
    t.same(leds({ ...idle, flash: { outcome, at: NOW } }, NOW + 10).invite, P.outcomeRefused, outcome);
  }
  t.not(P.outcomeRefused, P.inviteWaiting, 'the refused pattern is distinct from waiting');
  t.same(
    leds({ ...waiting, flash: { outcome: 'declined', at: NOW } }, NOW).invite,
    P.outcomeRefused,
    'an outcome shows over what still waits',
  );

  const hosting = { ...idle, outPending: 2 };
  t.same(leds(hosting, NOW).invite, P.hostAwaiting, 'host: blinks while its invitations await answers');
  t.not(P.hostAwaiting, P.inviteWaiting, '… differently from an invitation to answer');
  const answered = { ...idle, outLastClosedAt: NOW };
  t.same(leds(answered, NOW + 1000).invite, P.hostAllAnswered, 'host: solid when all answered');
  t.same(leds(answered, NOW + T.allAnsweredMs).invite, { state: 'off' }, '… for a minute');
  t.same(leds({ ...waiting, outPending: 1 }, NOW).invite, P.inviteWaiting, 'answering comes first');
});

t.test('status and presence LEDs', async (t) => {
  t.same(leds({ ...idle, status: 'booting' }, NOW).status, P.statusBooting);
  t.same(leds({ ...idle, status: 'no-network' }, NOW).status, P.statusNoNetwork);
  t.same(leds({ ...idle, status: 'ready' }, NOW).status, P.statusReady);
  t.same(leds({ ...idle, status: 'fault' }, NOW).status, P.statusFault);
  const distinct = new Set(
    [P.statusBooting, P.statusNoNetwork, P.statusReady, P.statusFault].map((p) => JSON.stringify(p)),
  );
  t.equal(distinct.size, 4, 'four status patterns, all distinct');
  const presence = (p: PanelInputs['presence']) => leds({ ...idle, presence: p }, NOW).presence;
  t.same(presence('Online'), P.presenceOnline);
  for (const p of ['Away', 'BeRightBack', 'OutToLunch', 'Idle'] as const)
    t.same(presence(p), P.presenceAway, p);
  for (const p of ['Busy', 'OnThePhone'] as const) t.same(presence(p), P.presenceBusy, p);
  t.same(presence('Offline'), { state: 'off' });
  t.same(presence(null), { state: 'off' }, 'signed out');
});

t.test('when the picture changes by itself', async (t) => {
  t.equal(nextChange(idle, NOW), null, 'idle: never');
  const i = { ...idle, waiting: [w('a', NOW, 120_000)], flash: { outcome: 'declined' as const, at: NOW } };
  t.equal(nextChange(i, NOW), NOW + T.flashMs, 'the outcome ends first');
  t.equal(nextChange(i, NOW + T.flashMs), NOW + 120_000 - T.urgentMs, 'then the urgent phase');
  t.equal(nextChange(i, NOW + 120_000 - T.urgentMs), NOW + 120_000, 'then the expiry');
  t.equal(nextChange({ ...idle, outLastClosedAt: NOW }, NOW), NOW + T.allAnsweredMs);
});

t.test('buttons', async (t) => {
  const i = {
    ...idle,
    waiting: [
      w('new', NOW - 10, 60_000),
      w('old', NOW - 5000, 60_000, 'host-request'),
      w('gone', NOW - 9000, -1),
    ],
  };
  t.same(
    onButton(i, 'accept', false, NOW),
    { type: 'answer', kind: 'host-request', id: 'old', answer: 'accepted' },
    'Accept answers the oldest live one',
  );
  t.same(onButton(i, 'decline', false, NOW), {
    type: 'answer',
    kind: 'host-request',
    id: 'old',
    answer: 'declined',
  });
  t.match(onButton(idle, 'accept', false, NOW), { type: 'none' }, 'nothing waiting: nothing happens');
  t.same(
    onButton({ ...idle, presence: 'Online' }, 'accept', true, NOW),
    { type: 'presence', status: 'Away' },
    'long press cycles',
  );
  t.equal(nextPresence('Away'), 'Busy');
  t.equal(nextPresence('Busy'), 'Online');
  t.equal(nextPresence('OnThePhone'), 'Online', 'any other state goes back to Online');
  t.equal(nextPresence(null), 'Online');
  t.match(onButton(i, 'decline', true, NOW), { type: 'none' }, 'a long Decline does nothing');
});
