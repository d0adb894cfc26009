/**
 * Publishing through an Avahi EntryGroup, as a pure machine: what to add, when a TXT-only change is an
 * UpdateServiceTxt, the `Nick (2)` rename on COLLISION, when `presence:announced` is due, and what
 * happens when the daemon goes away or comes back. The shell (service.ts) carries out the effects.
 */
import { instanceLabel, nextInstanceLabel } from '../names.js';
import type { Announcement } from '../types.js';
import { GROUP, MAX_RENAMES } from './constants.js';
import { announcementTxt, txtKey } from './txt.js';

export interface PublishState {
  ann: Announcement | null;
  label: string | null; // current instance label (after renames)
  /** The daemon is RUNNING and we hold a usable entry group. */
  ready: boolean;
  /** What the entry group holds (added and committed), or null. */
  committed: { label: string; port: number; txt: string } | null;
  established: boolean;
  announced: boolean; // `presence:announced` emitted for the current registration
  renames: number; // collisions in a row
}

export type PublishEvent =
  | { type: 'announce'; a: Announcement }
  | { type: 'withdraw' }
  | { type: 'ready' } // daemon RUNNING, group created
  | { type: 'unready' } // daemon gone / not RUNNING: the group and its entries are gone
  | { type: 'group-state'; state: number; error?: string }
  | { type: 'retry' };

export type PublishEffect =
  | { type: 'publish'; label: string; port: number; txt: Buffer[] } // Reset + AddService + Commit
  | { type: 'update-txt'; label: string; txt: Buffer[] } // UpdateServiceTxt
  | { type: 'reset' } // Reset: withdraws (goodbye) what the group holds
  | { type: 'announced'; instance: string }
  | { type: 'renamed'; from: string; to: string }
  | { type: 'withdrawn'; instance: string }
  | { type: 'failed'; error: string; retry: boolean };

export const initialPublishState = (): PublishState => ({
  ann: null,
  label: null,
  ready: false,
  committed: null,
  established: false,
  announced: false,
  renames: 0,
});

type Step = { state: PublishState; effects: PublishEffect[] };

function publish(s: PublishState): Step {
  if (!s.ann || s.label === null || !s.ready) return { state: s, effects: [] };
  const txt = announcementTxt(s.ann);
  return {
    state: {
      ...s,
      committed: { label: s.label, port: s.ann.port, txt: txtKey(txt) },
      established: false,
      announced: false,
    },
    effects: [{ type: 'publish', label: s.label, port: s.ann.port, txt }],
  };
}

export function publishStep(s: PublishState, ev: PublishEvent): Step {
  switch (ev.type) {
    case 'announce': {
      const txt = announcementTxt(ev.a); // throws (too large) before anything changes
      const label = instanceLabel(ev.a.nickname);
      const prev = s.ann;
      const next: PublishState = { ...s, ann: ev.a };
      if (!prev || instanceLabel(prev.nickname) !== label || s.label === null) {
        return publish({ ...next, label, renames: 0 });
      }
      const c = s.committed;
      if (!s.ready || !c) return { state: next, effects: [] }; // published once the daemon is back
      if (c.port !== ev.a.port || c.label !== s.label) return publish(next);
      const key = txtKey(txt);
      if (c.txt === key) return { state: next, effects: [] };
      return {
        state: { ...next, committed: { ...c, txt: key } },
        effects: [{ type: 'update-txt', label: c.label, txt }],
      };
    }
    case 'withdraw': {
      const effects: PublishEffect[] = [];
      if (s.committed && s.ready) effects.push({ type: 'reset' });
      if (s.label !== null) effects.push({ type: 'withdrawn', instance: s.label });
      return {
        state: {
          ...s,
          ann: null,
          label: null,
          committed: null,
          established: false,
          announced: false,
          renames: 0,
        },
        effects,
      };
    }
    case 'ready':
      return publish({ ...s, ready: true, committed: null, established: false });
    case 'unready':
      return {
        state: { ...s, ready: false, committed: null, established: false, announced: false },
        effects: [],
      };
    case 'retry':
      return s.committed || !s.ready ? { state: s, effects: [] } : publish({ ...s, renames: 0 });
    case 'group-state':
      return groupState(s, ev.state, ev.error);
  }
}

function groupState(s: PublishState, state: number, error?: string): Step {
  if (!s.committed || s.label === null) return { state: s, effects: [] }; // stale: nothing registered
  if (state === GROUP.ESTABLISHED) {
    const effects: PublishEffect[] = [];
    if (!s.announced) effects.push({ type: 'announced', instance: s.label });
    return { state: { ...s, established: true, announced: true, renames: 0 }, effects };
  }
  if (state === GROUP.COLLISION) {
    if (s.renames >= MAX_RENAMES) {
      return {
        state: { ...s, committed: null, established: false },
        effects: [{ type: 'failed', error: `name taken ${s.renames} times in a row`, retry: true }],
      };
    }
    const from = s.label;
    const to = nextInstanceLabel(from);
    const step = publish({ ...s, label: to, renames: s.renames + 1 });
    return { state: step.state, effects: [{ type: 'renamed', from, to }, ...step.effects] };
  }
  if (state === GROUP.FAILURE) {
    return {
      state: { ...s, committed: null, established: false },
      effects: [{ type: 'failed', error: error ?? 'entry group failure', retry: true }],
    };
  }
  return { state: s, effects: [] }; // UNCOMMITED / REGISTERING: in progress
}
