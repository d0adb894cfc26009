/** `host:port` / `[v6]:port` endpoints as presence and contacts write them. */
export interface HostPort {
  host: string; // IPv6 without brackets, as sockets want it
  port: number;
}

/** Parse an endpoint; a missing port gets `defaultPort`. Null when unusable. */
export function parseEndpoint(ep: string, defaultPort: number): HostPort | null {
  const s = ep.trim();
  const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  const m = v6 ?? /^([^:[\]\s]+)(?::(\d{1,5}))?$/.exec(s);
  if (!m) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: m[1] as string, port };
}
