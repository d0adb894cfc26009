import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname } from 'node:path';
import type { InterfaceView, StartupView } from './control/types.js';
import { PeerhubError } from './core/errors.js';

/** The package version, from dist/ (compiled) or the source tree. */
export function packageVersion(): string {
  try {
    const url = new URL('../../package.json', import.meta.url); // dist/firmware/agent-support.js
    const alt = new URL('../package.json', import.meta.url); // firmware/agent-support.ts under a TS runtime
    const file = existsSync(url) ? url : alt;
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Refuse to take over a socket another live agent answers on; remove a stale one. */
export async function claimSocket(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  if (!existsSync(path)) return;
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) {
    throw new PeerhubError('PH_ERR_INTERNAL', `another agent is already answering on ${path}`);
  }
  unlinkSync(path);
}

/** `ip:port` of this host's IPv4 addresses (on `iface` when given): the endpoints our card lists. */
export function localEndpoints(port: number, iface?: string): string[] {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (iface && name !== iface) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) out.push(`${a.address}:${port}`);
  }
  return out.slice(0, 8);
}

/** Counters of a service under a name prefix, for `status --json`. */
export function prefixed(prefix: string, counters: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counters).map(([k, v]) => [prefix + k, v]));
}

/** The process's memory in MB (one decimal), for `status --json` and diagnostics. */
export function memoryMB(): Record<'rss' | 'heapTotal' | 'heapUsed' | 'external' | 'arrayBuffers', number> {
  const m = process.memoryUsage();
  const mb = (n: number): number => Math.round(n / 104857.6) / 10;
  return {
    rss: mb(m.rss),
    heapTotal: mb(m.heapTotal),
    heapUsed: mb(m.heapUsed),
    external: mb(m.external),
    arrayBuffers: mb(m.arrayBuffers),
  };
}

/**
 * How long the process took to be ready and the CPU it used until then (user + system), in ms: Node's
 * own start, loading the modules, the identity, RFC 6762 probing and the first announcement, both APIs.
 * Process figures: in a test running several agents in one process they describe that process.
 */
export function startupFigures(): StartupView {
  const cpu = process.cpuUsage();
  return { readyMs: Math.round(process.uptime() * 1000), cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
}

/** `peerhub status`: the host's interfaces as an owner diagnosing over SSH wants them (no loopback). */
export function interfacesView(): InterfaceView[] {
  return Object.entries(networkInterfaces()).flatMap(([name, addrs]) => {
    const list = (addrs ?? []).filter((a) => !a.internal);
    if (list.length === 0) return [];
    const mac = list.find((a) => a.mac && a.mac !== '00:00:00:00:00:00')?.mac ?? null;
    return [{ name, addresses: list.map((a) => a.cidr ?? a.address), mac }];
  });
}
