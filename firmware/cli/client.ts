import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { defaultDataDir } from '../config/paths.js';
import { PeerhubError } from '../core/errors.js';

export const SYSTEM_SOCKET = '/run/peerhub/control.sock';

/** --socket, then $PEERHUB_SOCKET, then the appliance's socket if present, then the user data dir's. */
export function resolveSocket(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (env.PEERHUB_SOCKET) return env.PEERHUB_SOCKET;
  if (env.PEERHUB_CONTROL_SOCKET) return env.PEERHUB_CONTROL_SOCKET;
  if (existsSync(SYSTEM_SOCKET)) return SYSTEM_SOCKET;
  return join(env.PEERHUB_DATA_DIR || defaultDataDir(env), 'control.sock');
}

export interface ApiError {
  code: string;
  message: string;
  statusCode: number;
}

function unreachable(socket: string, cause: unknown): PeerhubError {
  return new PeerhubError(
    'PH_ERR_AGENT_UNREACHABLE',
    `agent not running (no answer on ${socket}); start it with \`peerhub agent\` or pass --socket`,
    { cause, statusCode: 503 },
  );
}

export const CALL_TIMEOUT_MS = 10_000;

/** One control-API call over the Unix socket. Resolves with the parsed body; rejects with the API's error. */
export async function call<T = unknown>(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  opts: { timeoutMs?: number } = {},
): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const text = await callRaw(socket, method, path, payload, 'application/json', opts.timeoutMs);
  try {
    return (text ? JSON.parse(text) : null) as T;
  } catch {
    throw new PeerhubError('PH_ERR_INTERNAL', `agent sent a non-JSON answer to ${path}`);
  }
}

/** A control-API call with a raw body and answer (contact files are XML). */
export function callRaw(
  socket: string,
  method: string,
  path: string,
  payload?: string | Buffer,
  contentType = 'application/json',
  /** Silence allowed before giving up (`host request` waits for the host's owner, minutes). */
  timeoutMs = CALL_TIMEOUT_MS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        method,
        path,
        headers:
          payload !== undefined
            ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }
            : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 500) >= 400) {
            let e: Partial<ApiError> = {};
            try {
              e = JSON.parse(text) as ApiError;
            } catch {
              // not JSON: the text is the message
            }
            return reject(
              new ApiCallError(e.code ?? 'PH_ERR_INTERNAL', e.message ?? text, res.statusCode ?? 500),
            );
          }
          resolve(text);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer after ${Math.round(timeoutMs / 1000)} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTSOCK')
        reject(unreachable(socket, e));
      else reject(e);
    });
    if (payload) req.write(payload);
    req.end();
  });
}

export class ApiCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

/** Follow a newline-delimited JSON stream; resolves when the agent closes it. */
export function stream(socket: string, path: string, onItem: (item: unknown) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method: 'GET', path }, (res) => {
      if ((res.statusCode ?? 500) >= 400) {
        res.resume();
        return reject(
          new ApiCallError('PH_ERR_INTERNAL', `events: HTTP ${res.statusCode}`, res.statusCode ?? 500),
        );
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line) onItem(JSON.parse(line));
        }
      });
      res.on('end', () => resolve());
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(unreachable(socket, e));
      else reject(e);
    });
    req.end();
  });
}
