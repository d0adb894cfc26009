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
 * machine is gone (no phlab-* namespace left) and nobody changed them meanwhile.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { runSync } from './proc.js';

const FAMILIES = ['ipv4', 'ipv6'] as const;
const KNOBS = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'] as const;
const path = (family: string, knob: string): string => `/proc/sys/net/${family}/neigh/default/${knob}`;

/** What we replaced: path → [original value, value we wrote]. */
const replaced = new Map<string, [number, number]>();

const read = (p: string): number => Number(readFileSync(p, 'utf8').trim());

/** Entries a lab of `nodes` hubs may need at once: each node's peers plus its multicast groups. */
export function neighbourEntriesFor(nodes: number): [number, number, number] {
  const need = nodes * (nodes + 4);
  return [need, 2 * need, 4 * need];
}

/** Raise the shared limits for a lab of `nodes` (best effort; returns what could not be raised). */
export function raiseNeighbourLimits(nodes: number): string[] {
  const failed: string[] = [];
  const want = neighbourEntriesFor(nodes);
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
      } catch {
        failed.push(p);
      }
    }
  }
  return failed;
}

/** Put back what we raised, once no lab namespace is left on the machine (another process may run one). */
export function restoreNeighbourLimits(): void {
  if (replaced.size === 0) return;
  const ns = runSync('ip', ['netns', 'list']);
  if (ns.code !== 0 || /\bphlab-/.test(ns.stdout)) return;
  for (const [p, [original, wrote]] of replaced) {
    try {
      if (read(p) === wrote) writeFileSync(p, String(original));
    } catch {
      // best effort: a higher limit is harmless
    }
  }
  replaced.clear();
}
