/** What `peerhub doctor` needs from the machine: /proc, statfs, the data directory. Best effort. */
import { readdirSync, readFileSync, readlinkSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Command names of the processes holding UDP port 5353 (via /proc/net/udp inodes and /proc/<pid>/fd).
 * A socket whose process cannot be seen (the agent runs as its own user with ProtectProc=invisible) is
 * named by its owner instead, `user <name>` (from /proc/net/udp's uid and `passwd`).
 */
export function port5353Owners(proc = '/proc', passwd = '/etc/passwd'): string[] {
  const inodes = new Map<string, string>(); // socket inode → owner uid
  for (const file of ['net/udp', 'net/udp6']) {
    let text = '';
    try {
      text = readFileSync(join(proc, file), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[1]?.endsWith(':14E9')) inodes.set(cols[9] as string, cols[7] as string);
    }
  }
  if (inodes.size === 0) return [];
  const owners = new Set<string>();
  const seen = new Set<string>();
  let pids: string[] = [];
  try {
    pids = readdirSync(proc).filter((p) => /^\d+$/.test(p));
  } catch {
    pids = [];
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(join(proc, pid, 'fd'));
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(join(proc, pid, 'fd', fd));
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1] as string)) {
        seen.add(m[1] as string);
        try {
          owners.add(readFileSync(join(proc, pid, 'comm'), 'utf8').trim());
        } catch {
          owners.add(`pid ${pid}`);
        }
      }
    }
  }
  const unseen = [...inodes].filter(([inode]) => !seen.has(inode));
  if (unseen.length > 0) {
    const names = userNames(passwd);
    for (const [, uid] of unseen) owners.add(`user ${names.get(uid) ?? uid}`);
  }
  return [...owners].sort();
}

function userNames(passwd: string): Map<string, string> {
  const names = new Map<string, string>();
  try {
    for (const line of readFileSync(passwd, 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid) names.set(uid, name);
    }
  } catch {
    // unknown users are named by uid
  }
  return names;
}

/** A route that carries multicast: 224.0.0.0/4 or a default route (on `iface` when given). */
export function multicastRoute(iface: string | null, proc = '/proc'): boolean | null {
  let text: string;
  try {
    text = readFileSync(join(proc, 'net/route'), 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n').slice(1)) {
    const [dev, dest, , , , , , mask] = line.trim().split(/\s+/);
    if (!dev || (iface && dev !== iface)) continue;
    if (dest === '00000000' && mask === '00000000') return true; // default route
    if (dest === '000000E0' && mask === '000000F0') return true; // 224.0.0.0/4 (little-endian hex)
  }
  return false;
}

/** Files the durable store set aside as corrupt. */
export function quarantinedFiles(dataDir: string): string[] {
  try {
    return readdirSync(dataDir).filter((f) => f.includes('.corrupt'));
  } catch {
    return [];
  }
}

export function freeSpace(path: string): { freeBytes: number; path: string } | null {
  try {
    const s = statfsSync(path);
    return { freeBytes: Number(s.bavail) * Number(s.bsize), path };
  } catch {
    return null;
  }
}

export function onRaspberryPi(compatibleFile = '/proc/device-tree/compatible'): boolean {
  try {
    return readFileSync(compatibleFile, 'utf8').includes('raspberrypi');
  } catch {
    return false;
  }
}
