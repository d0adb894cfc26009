/**
 * The panel, pure (issue 5): what the agent knows → one pattern per LED; a button → one action. No I/O,
 * no timers: the time is an argument, and `nextChange` says when the picture changes by itself (an
 * outcome stops showing, an invitation enters its last seconds) so the shell knows when to look again.
 */
import type { PresenceStatus } from '../presence/types.js';

export type LedName = 'invite' | 'status' | 'presence';
export type ButtonName = 'accept' | 'decline';

/** off, on, or blinking (on for onMs, off for offMs: the kernel's timer trigger does it on hardware). */
export type Pattern = { state: 'off' } | { state: 'on' } | { state: 'blink'; onMs: number; offMs: number };

export type HubStatus = 'booting' | 'no-network' | 'ready' | 'fault';
export type Outcome = 'accepted' | 'declined' | 'expired' | 'cancelled' | 'failed';

/** Something waiting for this owner's answer: an invitation received, or a host request (policy ask). */
export interface Waiting {
  kind: 'invitation' | 'host-request';
  id: string;
  createdAt: number;
  expiresAt: number;
}

export interface PanelInputs {
  status: HubStatus;
  /** null: signed out (not published). */
  presence: PresenceStatus | null;
  /** Oldest first is not required: the machine sorts. */
  waiting: Waiting[];
  /** Host side: invitations this hub sent that still await an answer. */
  outPending: number;
  /** Host side: when the last of its invitations got its final state (answered, expired, cancelled). */
  outLastClosedAt: number | null;
  /** The outcome of an answer given here (or of an invitation that ended), shown briefly. */
  flash: { outcome: Outcome; at: number } | null;
}

export const PANEL_TIMING = {
  /** How long an outcome shows. */
  flashMs: 3000,
  /** An invitation blinks faster in its last seconds. */
  urgentMs: 30_000,
  /** Host side: solid this long after the last answer came in. */
  allAnsweredMs: 60_000,
  /** Holding Accept this long cycles presence (johnny-five Button holdtime). */
  longPressMs: 1500,
};

const OFF: Pattern = { state: 'off' };
const ON: Pattern = { state: 'on' };
const blink = (onMs: number, offMs: number): Pattern => ({ state: 'blink', onMs, offMs });

/** The pattern table (README "The panel"), one row per pattern. */
export const PATTERNS = {
  inviteWaiting: blink(500, 500),
  inviteUrgent: blink(120, 120),
  outcomeAccepted: ON,
  outcomeRefused: blink(60, 240), // declined, expired, cancelled, failed: short flickers
  hostAwaiting: blink(1000, 1000),
  hostAllAnswered: ON,
  statusBooting: blink(250, 250),
  statusNoNetwork: blink(100, 1900),
  statusReady: ON,
  statusFault: blink(80, 80),
  presenceOnline: ON,
  presenceAway: blink(1000, 1000),
  presenceBusy: blink(150, 850),
  presenceOff: OFF,
} as const satisfies Record<string, Pattern>;

const AWAY: ReadonlySet<PresenceStatus> = new Set(['Away', 'BeRightBack', 'OutToLunch', 'Idle']);
const BUSY: ReadonlySet<PresenceStatus> = new Set(['Busy', 'OnThePhone']);

export function oldestWaiting(inputs: Pick<PanelInputs, 'waiting'>, now: number): Waiting | null {
  const live = inputs.waiting.filter((w) => w.expiresAt > now);
  live.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  return live[0] ?? null;
}

function inviteLed(i: PanelInputs, now: number, t: typeof PANEL_TIMING): Pattern {
  if (i.flash && now - i.flash.at < t.flashMs) {
    return i.flash.outcome === 'accepted' ? PATTERNS.outcomeAccepted : PATTERNS.outcomeRefused;
  }
  const live = i.waiting.filter((w) => w.expiresAt > now);
  if (live.length > 0) {
    const soonest = Math.min(...live.map((w) => w.expiresAt));
    return soonest - now <= t.urgentMs ? PATTERNS.inviteUrgent : PATTERNS.inviteWaiting;
  }
  if (i.outPending > 0) return PATTERNS.hostAwaiting;
  if (i.outLastClosedAt !== null && now - i.outLastClosedAt < t.allAnsweredMs)
    return PATTERNS.hostAllAnswered;
  return OFF;
}

function statusLed(s: HubStatus): Pattern {
  switch (s) {
    case 'booting':
      return PATTERNS.statusBooting;
    case 'no-network':
      return PATTERNS.statusNoNetwork;
    case 'ready':
      return PATTERNS.statusReady;
    case 'fault':
      return PATTERNS.statusFault;
  }
}

function presenceLed(p: PresenceStatus | null): Pattern {
  if (p === null || p === 'Offline') return PATTERNS.presenceOff;
  if (p === 'Online') return PATTERNS.presenceOnline;
  if (AWAY.has(p)) return PATTERNS.presenceAway;
  if (BUSY.has(p)) return PATTERNS.presenceBusy;
  return PATTERNS.presenceOnline;
}

export function leds(i: PanelInputs, now: number, t = PANEL_TIMING): Record<LedName, Pattern> {
  return { invite: inviteLed(i, now, t), status: statusLed(i.status), presence: presenceLed(i.presence) };
}

/** When `leds` may next differ without new inputs (null: not by itself). */
export function nextChange(i: PanelInputs, now: number, t = PANEL_TIMING): number | null {
  const at: number[] = [];
  if (i.flash && now - i.flash.at < t.flashMs) at.push(i.flash.at + t.flashMs);
  for (const w of i.waiting) {
    if (w.expiresAt > now) at.push(w.expiresAt);
    if (w.expiresAt - t.urgentMs > now) at.push(w.expiresAt - t.urgentMs);
  }
  if (i.outLastClosedAt !== null && now - i.outLastClosedAt < t.allAnsweredMs) {
    at.push(i.outLastClosedAt + t.allAnsweredMs);
  }
  return at.length > 0 ? Math.min(...at) : null;
}

export type PanelAction =
  | { type: 'answer'; kind: Waiting['kind']; id: string; answer: 'accepted' | 'declined' }
  | { type: 'presence'; status: PresenceStatus }
  | { type: 'none'; reason: string };

/** Long-press Accept cycles presence Online → Away → Busy → Online (any other state → Online). */
export const PRESENCE_CYCLE: readonly PresenceStatus[] = ['Online', 'Away', 'Busy'];

export function nextPresence(p: PresenceStatus | null): PresenceStatus {
  const i = p === null ? -1 : PRESENCE_CYCLE.indexOf(p);
  return i < 0 ? 'Online' : (PRESENCE_CYCLE[(i + 1) % PRESENCE_CYCLE.length] as PresenceStatus);
}

/** Accept / Decline answer the oldest waiting request; a long press of Accept cycles presence. */
export function onButton(i: PanelInputs, button: ButtonName, long: boolean, now: number): PanelAction {
  if (long) {
    return button === 'accept'
      ? { type: 'presence', status: nextPresence(i.presence) }
      : { type: 'none', reason: 'a long press of Decline does nothing' };
  }
  const w = oldestWaiting(i, now);
  if (!w) return { type: 'none', reason: 'nothing is waiting for an answer' };
  return { type: 'answer', kind: w.kind, id: w.id, answer: button === 'accept' ? 'accepted' : 'declined' };
}
