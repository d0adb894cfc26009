/**
 * Field checks shared by applications, objects and launch info. Each failure is PH_ERR_BAD_REQUEST
 * (400) whose message starts with the field name, so the control API and CLI can say what to fix.
 */
import { isAbsolute } from 'node:path';
import { PeerhubError } from '../core/errors.js';
import type { Scope, Visibility } from './apps-types.js';

export const MAX_DATA_BYTES = 16 * 1024;
export const MAX_DESCRIPTION = 256;
export const MAX_ARGS = 32;
export const MAX_ARG_BYTES = 1024;
export const MAX_COMMAND_BYTES = 4096;
export const MAX_MESSAGE = 255;
export const SCOPES: readonly Scope[] = ['None', 'NearMe', 'Internet', 'All'];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NIL_GUID = '00000000-0000-0000-0000-000000000000';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function badRequest(field: string, problem: string): PeerhubError {
  return new PeerhubError('PH_ERR_BAD_REQUEST', `${field}: ${problem}`, { statusCode: 400 });
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** An object with only the allowed keys (a typo is an error, not silently ignored). */
export function checkObject(x: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isRecord(x)) throw badRequest(what, 'must be an object');
  for (const k of Object.keys(x)) if (!allowed.includes(k)) throw badRequest(k, 'unknown field');
  return x;
}

/** RFC 4122 text form (8-4-4-4-12 hex digits, any case) → lower case; the nil GUID is refused. */
export function checkGuid(x: unknown, field = 'id'): string {
  if (typeof x !== 'string') throw badRequest(field, 'must be a GUID string');
  const id = x.trim().toLowerCase();
  if (!GUID.test(id))
    throw badRequest(field, `${JSON.stringify(x.slice(0, 64))} is not a GUID (8-4-4-4-12 hex)`);
  if (id === NIL_GUID) throw badRequest(field, 'the nil GUID is not an identifier');
  return id;
}

/** A GUID, or undefined when x is not one (lookups: an unknown and a malformed id are both "absent"). */
export function parseGuid(x: unknown): string | undefined {
  try {
    return checkGuid(x);
  } catch {
    return undefined;
  }
}

/** Standard padded base64 (RFC 4648 §4) whose decoded size is at most `max` bytes. */
export function checkBase64(x: unknown, field = 'data', max = MAX_DATA_BYTES): string {
  if (x === undefined) return '';
  if (typeof x !== 'string') throw badRequest(field, 'must be a base64 string');
  const tooBig = (): PeerhubError => badRequest(field, `decodes to more than ${max} bytes`);
  if (x.length > Math.ceil(max / 3) * 4) throw tooBig();
  if (!BASE64.test(x)) throw badRequest(field, 'is not valid base64');
  if (base64Size(x) > max) throw tooBig();
  return x;
}

/** Decoded size of a valid base64 string. */
export function base64Size(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return (b64.length / 4) * 3 - pad;
}

export function checkText(x: unknown, field: string, max: number, dflt?: string): string {
  if (x === undefined && dflt !== undefined) return dflt;
  if (typeof x !== 'string') throw badRequest(field, 'must be a string');
  if ([...x].length > max) throw badRequest(field, `longer than ${max} characters`);
  if (CONTROL.test(x)) throw badRequest(field, 'contains control characters');
  return x;
}

export function checkScope(x: unknown, field = 'scope'): Scope {
  if (x === undefined) return 'None';
  if (!SCOPES.includes(x as Scope)) throw badRequest(field, `must be one of ${SCOPES.join(', ')}`);
  return x as Scope;
}

export function checkCommand(x: unknown, field = 'command'): string {
  if (typeof x !== 'string' || x.length === 0) throw badRequest(field, 'must be an absolute path');
  if (x.includes('\0')) throw badRequest(field, 'contains a NUL character');
  if (!isAbsolute(x)) throw badRequest(field, `${JSON.stringify(x.slice(0, 64))} is not an absolute path`);
  if (Buffer.byteLength(x) > MAX_COMMAND_BYTES)
    throw badRequest(field, `longer than ${MAX_COMMAND_BYTES} bytes`);
  return x;
}

export function checkArgs(x: unknown, field = 'args'): string[] {
  if (x === undefined) return [];
  if (!Array.isArray(x)) throw badRequest(field, 'must be a list of strings');
  if (x.length > MAX_ARGS) throw badRequest(field, `more than ${MAX_ARGS} arguments`);
  return x.map((a, i) => {
    if (typeof a !== 'string') throw badRequest(`${field}[${i}]`, 'must be a string');
    if (a.includes('\0')) throw badRequest(`${field}[${i}]`, 'contains a NUL character');
    if (Buffer.byteLength(a) > MAX_ARG_BYTES)
      throw badRequest(`${field}[${i}]`, `longer than ${MAX_ARG_BYTES} bytes`);
    return a;
  });
}

export function checkTime(x: unknown, field: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
    throw badRequest(field, 'must be a time in ms');
  return x;
}

/** Which scopes the given askers may see. */
export function visibleScopes(visibility: Visibility | readonly Visibility[]): Set<Scope> {
  const out = new Set<Scope>();
  for (const v of typeof visibility === 'string' ? [visibility] : visibility) {
    if (v === 'contact') out.add('Internet').add('All');
    else if (v === 'nearby') out.add('NearMe').add('All');
  }
  return out;
}
