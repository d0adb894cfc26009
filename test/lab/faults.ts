/**
 * Network and disk faults for the LAN lab (issue 7, `npm run torture -- --only faults`).
 *
 *   await setLoss(lab, i, 30);        // node i drops 30 % of what arrives on eth0 (nftables numgen)
 *   await setLoss(lab, i, 0);         // healed (table removed)
 *   await flap(lab, i, 3_000);        // cable out for 3 s (switch side), then back in
 *   const disk = await mountTmpfs(t, dir, 4096); await disk.fill(); await disk.free(); // small tmpfs
 *
 * No `tc netem` in this kernel: loss is an nftables rule in the node's namespace
 * (`iifname "eth0" numgen random mod 100 < P drop`), so each packet a node receives is dropped with
 * probability P — unicast and multicast alike, both directions when every node is lossy. Links go down
 * on the switch side (`lab.linkDown`), as a real switch port would.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  statfsSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Lab, Teardown } from './harness.js';
import { must, run, runSync } from './proc.js';

const TABLE = 'phfault';

/** Drop `pct` % of the packets node i receives on eth0 (0: remove the rule). Idempotent. */
export async function setLoss(lab: Lab, i: number, pct: number): Promise<void> {
  if (!Number.isInteger(pct) || pct < 0 || pct > 100) throw new Error(`loss must be 0..100 %, got ${pct}`);
  const ns = lab.node(i).ns;
  await run('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', TABLE], { timeoutMs: 10_000 });
  if (pct === 0) return;
  const ruleset = [
    `table inet ${TABLE} {`,
    '  chain in {',
    '    type filter hook input priority -10; policy accept;',
    `    iifname "eth0" numgen random mod 100 < ${pct} counter drop`,
    '  }',
    '}',
  ].join('\n');
  const file = join(lab.node(i).dir, 'loss.nft');
  writeFileSync(file, ruleset + '\n');
  await must('ip', ['netns', 'exec', ns, 'nft', '-f', file], { timeoutMs: 10_000 });
}

/** Packets dropped so far by node i's loss rule (0 when there is none). */
export async function dropped(lab: Lab, i: number): Promise<number> {
  const r = await run('ip', ['netns', 'exec', lab.node(i).ns, 'nft', 'list', 'table', 'inet', TABLE], {
    timeoutMs: 10_000,
  });
  if (r.code !== 0) return 0;
  const m = /counter packets (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/** Take node i's cable out for `ms`, then put it back. */
export async function flap(lab: Lab, i: number, ms: number): Promise<void> {
  await lab.linkDown(i);
  try {
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    await lab.linkUp(i);
  }
}

/**
 * Flap nodes `nodes` one after another (down `downMs`, up `upMs`) until `stop()` is called or
 * `maxFlaps` flaps were done; resolves with the number of flaps. Every link is up when it resolves.
 */
export function flapper(
  lab: Lab,
  nodes: readonly number[],
  opts: { downMs: number; upMs: number; maxFlaps: number },
): { stop: () => void; done: Promise<number> } {
  let stopped = false;
  const done = (async () => {
    let n = 0;
    while (!stopped && n < opts.maxFlaps) {
      const i = nodes[n % nodes.length] as number;
      await flap(lab, i, opts.downMs);
      n++;
      if (!stopped) await new Promise((r) => setTimeout(r, opts.upMs));
    }
    return n;
  })();
  return { stop: () => void (stopped = true), done };
}

export interface Tmpfs {
  dir: string;
  sizeKB: number;
  /** Bytes free on the filesystem now. */
  freeBytes(): number;
  /** Fill it to the last block (a filler file); resolves with the bytes written. */
  fill(): number;
  /** Remove the filler. */
  free(): void;
  unmount(): void;
}

const mounted = new Set<string>();
// Registered when this module loads, so before the lab's own exit handler (installed by the first
// createLab): that one deletes the lab directory, which fails on a mount point still mounted.
process.on('exit', () => {
  for (const d of [...mounted]) unmountSync(d);
});

function unmountSync(dir: string): void {
  if (!mounted.has(dir)) return;
  runSync('umount', [dir]);
  if (runSync('mountpoint', ['-q', dir]).code === 0) runSync('umount', ['-l', dir]);
  mounted.delete(dir);
}

/**
 * Mount a `sizeKB` tmpfs on `dir` (created if missing) in this mount namespace. A lab hub whose data
 * directory is `dir` must be started after this: `ip netns exec` copies the mounts when it starts the
 * agent (the root mount here is private, nothing propagates later). The filler is written from here
 * and fills the agent's view too (one filesystem). Unmounted at teardown (registered after the lab, so
 * it runs before the lab deletes its directory) and at exit.
 */
export async function mountTmpfs(t: Teardown, dir: string, sizeKB: number): Promise<Tmpfs> {
  mkdirSync(dir, { recursive: true });
  await must('mount', ['-t', 'tmpfs', '-o', `size=${sizeKB}k,mode=0700`, 'phfault', dir]);
  mounted.add(dir);
  t.teardown(() => unmountSync(dir));
  const filler = join(dir, '.filler');
  const freeBytes = (): number => {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  };
  return {
    dir,
    sizeKB,
    freeBytes,
    fill(): number {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      let written = 0;
      try {
        for (let i = 0; i < 1_000_000; i++) {
          const want = Math.min(chunk.length, Math.max(1, freeBytes()));
          try {
            written += writeSync(fd, chunk, 0, want);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw e;
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free(): void {
      if (existsSync(filler)) unlinkSync(filler);
    },
    unmount: () => unmountSync(dir),
  };
}
