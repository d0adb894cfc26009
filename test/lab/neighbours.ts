/**
 * Room in the kernel's neighbour (ARP/NDP) tables for a big lab. The tables are shared by every network
 * namespace, and their default hard limit (gc_thresh3) is 1,024 entries for the whole machine: a lab of
 * 50 hubs that verify each other over TLS needs 50 × 49 entries, and past the limit the kernel refuses
 * new ones — every datagram that needs one is dropped at the sender (ENOBUFS, which UDP sockets do not
 * even report: "neighbor table overflow!" in dmesg, Udp SndbufErrors = Ip OutDiscards in each namespace).
 * Multicast needs an entry too, so the hubs' mDNS answers vanished: a 50-hub fleet saw two thirds of its
 * multicast lost after its first 20 s and dropped most of its peers by RFC 6762 §10.5 a minute in.
 *
 * The limits are raised (never lowered) before a lab is built and put back when the last lab of the
 * machine is gone (no phlab-* namespace left) and nobody changed them meanwhile. What was replaced is
 * also written to a file: a lab process killed before its clean-up (SIGKILL, a CI time-out) leaves the
 * limits raised, and the next lab puts them back once no lab is left (restoreLeftoverLimits).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSync } from './proc.js';

const FAMILIES = ['ipv4', 'ipv6'] as const;
const KNOBS = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'] as const;

/** Where the knobs and the record of what we replaced live (a unit test points them at a temp dir). */
export const neighbourFiles = {
  sys: '/proc/sys',
  record: join(tmpdir(), 'peerhub-lab-neighbours.json'),
};
const path = (family: string, knob: string): string =>
  `${neighbourFiles.sys}/net/${family}/neigh/default/${knob}`;

/** What we replaced: path → [original value, value we wrote]. */
const replaced = new Map<string, [number, number]>();

const read = (p: string): number => Number(readFileSync(p, 'utf8').trim());

function saveRecord(): void {
  try {
    if (replaced.size === 0) rmSync(neighbourFiles.record, { force: true });
    else writeFileSync(neighbourFiles.record, JSON.stringify(Object.fromEntries(replaced)));
  } catch {
    // best effort: without the record only a killed lab's limits stay raised (harmless, see above)
  }
}

/** Put back `record`'s knobs that still hold the value we wrote; returns the paths put back. */
function putBack(record: ReadonlyMap<string, readonly [number, number]>): string[] {
  const done: string[] = [];
  for (const [p, [original, wrote]] of record) {
    try {
      if (read(p) !== wrote) continue; // changed by someone else since: theirs
      writeFileSync(p, String(original));
      done.push(p);
    } catch {
      // best effort: a higher limit is harmless
    }
  }
  return done;
}

const labsLeft = (): boolean => {
  const ns = runSync('ip', ['netns', 'list']);
  return ns.code !== 0 || /\bphlab-/.test(ns.stdout);
};

/** Entries a lab of `nodes` hubs may need at once: each node's peers plus its multicast groups. */
export function neighbourEntriesFor(nodes: number): [number, number, number] {
  const need = nodes * (nodes + 4);
  return [need, 2 * need, 4 * need];
}

/** Raise the shared limits for a lab of `nodes` (best effort; returns what could not be raised). */
export function raiseNeighbourLimits(nodes: number): string[] {
  const failed: string[] = [];
  const want = neighbourEntriesFor(nodes);
  let wrote = false;
  for (const family of FAMILIES) {
    // gc_thresh3 first: the kernel keeps thresh1 ≤ thresh2 ≤ thresh3 only by convention, but raise top-down.
    for (let k = KNOBS.length - 1; k >= 0; k--) {
      const p = path(family, KNOBS[k] as string);
      try {
        const now = read(p);
        const target = want[k] as number;
        if (now >= target) continue;
        writeFileSync(p, String(target));
        if (!replaced.has(p)) replaced.set(p, [now, target]);
        else (replaced.get(p) as [number, number])[1] = target;
        wrote = true;
      } catch {
        failed.push(p);
      }
    }
  }
  if (wrote) saveRecord(); // once, and only then: the record file may be another live lab's
  return failed;
}

/** Put back what we raised, once no lab namespace is left on the machine (another process may run one). */
export function restoreNeighbourLimits(): void {
  if (replaced.size === 0 || labsLeft()) return;
  putBack(replaced);
  replaced.clear();
  saveRecord();
}

/**
 * Before a lab raises the limits: put back what a lab process that died without cleaning up had raised,
 * if no lab is left on the machine (call after sweeping dead labs' namespaces). Returns the paths put back.
 */
export function restoreLeftoverLimits(hasLabs: () => boolean = labsLeft): string[] {
  if (replaced.size > 0) return []; // ours: restored when our last lab goes
  let record: Map<string, [number, number]>;
  try {
    const parsed = JSON.parse(readFileSync(neighbourFiles.record, 'utf8')) as Record<string, unknown>;
    const knob = (p: string, v: unknown): v is [number, number] =>
      p.startsWith(`${neighbourFiles.sys}/net/`) &&
      Array.isArray(v) &&
      v.length === 2 &&
      v.every((x) => Number.isInteger(x) && (x as number) > 0);
    record = new Map(Object.entries(parsed).filter((e): e is [string, [number, number]] => knob(...e)));
  } catch {
    return []; // no record (or an unreadable one: nothing known to put back)
  }
  if (hasLabs()) return [];
  const done = putBack(record);
  rmSync(neighbourFiles.record, { force: true });
  return done;
}
