/**
 * Fuzz target: the peer API's request bodies. The real peer API app (firmware/wire/app.ts) with the real
 * collaboration routes and services (invitations, host requests, hosted sessions on files in a temporary
 * directory), driven with fastify's `inject` on every POST/PUT/PATCH/DELETE route it registers.
 * Input layout: byte 0 picks the route (low bits), the caller (bit 7: a stranger instead of a contact)
 * and the session id (bit 6: an unknown one); the rest is the JSON body.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createCollaboration, type Collaboration } from '../../../../firmware/collab/collaboration.js';
import type { Applications, Launcher } from '../../../../firmware/collab/apps-types.js';
import { EventBus } from '../../../../firmware/core/bus.js';
import { ManualClock } from '../../../../firmware/core/clock.js';
import { PeerhubError } from '../../../../firmware/core/errors.js';
import { silentLogger } from '../../../../firmware/core/logger.js';
import { loadOrCreateIdentity, parsePeerId } from '../../../../firmware/identity/index.js';
import { buildPeerApi } from '../../../../firmware/wire/app.js';
import type { FuzzTarget, Rng } from '../engine.js';

class ContractError extends Error {
  override name = 'ContractError';
}

const CONTACT = parsePeerId('B'.repeat(51) + 'A');
const STRANGER = parsePeerId('Z'.repeat(51) + 'A');
const HEX = (c: string) => c.repeat(32);

interface Api {
  app: FastifyInstance;
  collab: Collaboration;
  clock: ManualClock;
  dir: string;
  routes: Array<{ method: string; url: string }>;
  session: string;
  lines: Array<Record<string, unknown>>;
  caller: string;
}

let api: Api | null = null;

const noApps: Applications = {
  open: async () => undefined,
  close: async () => undefined,
  register: async () => {
    throw new PeerhubError('PH_ERR_BAD_REQUEST', 'not here', { statusCode: 400 });
  },
  unregister: async () => {
    throw new PeerhubError('PH_ERR_APP_NOT_FOUND', undefined, { statusCode: 404 });
  },
  get: () => undefined,
  list: () => [],
  listFor: () => [],
};
const noLauncher: Launcher = {
  launch: async () => ({ launched: false }) as never,
  active: 0,
  close: async () => undefined,
};

async function start(): Promise<Api> {
  // Stores on tmpfs when there is one: what is fuzzed is the handling of bodies, not the disk (a valid
  // body makes a durable write, whose fsync on a disk-backed /tmp held this target to ≈ 110 inputs/s).
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'peerhub-fuzz-api-'));
  const clock = new ManualClock(Date.UTC(2025, 5, 1));
  const lines: Array<Record<string, unknown>> = [];
  const logger = silentLogger(lines);
  const { identity } = await loadOrCreateIdentity(
    { now: () => clock.now(), logger },
    { dataDir: join(dir, 'id') },
  );
  const bus = new EventBus<Record<string, unknown>>(() => clock.now(), 100);
  const unreachable = async (): Promise<never> => {
    throw new PeerhubError('PH_ERR_PEER_UNREACHABLE', 'fuzz: no network');
  };
  const collab = createCollaboration({
    dataDir: dir,
    nickname: 'Kitchen',
    logger,
    clock,
    bus: bus as never,
    identity,
    client: { request: unreachable, subscribe: unreachable } as never,
    resolve: () => {
      throw new PeerhubError('PH_ERR_PEER_UNREACHABLE', 'fuzz: nowhere');
    },
    isContact: (p) => p === CONTACT,
    verifiedNearby: () => false,
    nameOf: () => undefined,
    peerRef: (r) => r,
    addContact: async () => undefined,
    apps: noApps,
    launcher: noLauncher,
    clockSynchronised: () => true,
  });
  const routes: Api['routes'] = [];
  const app = buildPeerApi(
    {
      logger,
      clock,
      card: () => ({
        peerId: identity.peerId,
        nickname: 'Kitchen',
        displayName: '',
        email: '',
        classifier: 'hub',
        peerName: `${identity.peerId}.hub`,
        rootCertPem: identity.rootCertPem,
        endpoints: [],
      }),
      presence: () => ({ status: 'Online', text: '', seq: 1 }) as never,
      applications: () => [],
      objects: () => [],
      events: bus,
      authorizeSubscriber: () => true,
    },
    {
      rateLimit: { perSecond: 1e9, burst: 1e9 },
      routes: (f) => {
        f.addHook('onRoute', (r) => {
          for (const m of [r.method].flat()) {
            if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(m)) routes.push({ method: m, url: r.url });
          }
        });
        collab.routes(f);
      },
    },
    { identify: () => ({ peerId: api?.caller ?? CONTACT }) },
  );
  await app.ready();
  await collab.start();
  const session = (await collab.parts.host.create()).id;
  if (routes.length === 0) throw new Error('no body-taking routes found');
  return { app, collab, clock, dir, routes, session, lines, caller: CONTACT };
}

/** Seeds: a valid body for every route (route byte first). */
function seedBodies(routes: Api['routes']): Buffer[] {
  const bodies: Record<string, unknown[]> = {
    '/v1/invitations': [
      { id: HEX('c'), sessionId: 'sess-1', message: 'hi', expiresInMs: 60_000 },
      {
        id: HEX('d'),
        sessionId: 'sess-2',
        appId: 'app.chat',
        message: 'Ünï 🎉',
        data: 'aGVsbG8=',
        expiresInMs: 1000,
      },
    ],
    '/v1/invitations/answer': [
      { id: HEX('c'), answer: 'accepted' },
      { id: HEX('e'), answer: 'declined' },
    ],
    '/v1/invitations/cancel': [{ id: HEX('c') }],
    '/v1/host-requests': [{ id: HEX('a'), message: 'host us?', appId: 'app.chat' }, { id: HEX('b') }],
    '/v1/host-requests/answer': [
      { id: HEX('a'), state: 'accepted', sessionId: 's1' },
      { id: HEX('b'), state: 'declined', reason: 'busy' },
    ],
    '/v1/sessions/:id/register': [
      { publicKeyPem: '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n', nickname: 'Bob' },
    ],
    '/v1/sessions/:id/messages': [{ text: 'hello' }],
    '/v1/sessions/:id/leave': [{}],
  };
  const out: Buffer[] = [];
  routes.forEach((r, i) => {
    for (const b of bodies[r.url] ?? [{}])
      out.push(Buffer.concat([Buffer.from([i]), Buffer.from(JSON.stringify(b))]));
  });
  return out;
}

const JSON_VALUES = [
  'null',
  'true',
  '0',
  '-1',
  '1e400',
  '-0',
  '""',
  '"x"',
  '[]',
  '{}',
  '"\\ud800"',
  '"\\u0000"',
  '9007199254740993',
  '"' + 'a'.repeat(300) + '"',
];

/** A body shaped like a seed, with some fields replaced by random JSON or dropped, or a stray field added. */
function generateBody(rng: Rng, routes: Api['routes']): Buffer {
  const seeds = seedBodies(routes);
  const seed = rng.pick(seeds);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(seed.subarray(1).toString()) as Record<string, unknown>;
  } catch {
    body = {};
  }
  for (const k of Object.keys(body)) {
    if (rng.bool(0.3)) body[k] = JSON.parse(rng.pick(JSON_VALUES));
    else if (rng.bool(0.1)) delete body[k];
  }
  if (rng.bool(0.1))
    body[rng.pick(['__proto__', 'constructor', 'extra', 'id'])] = JSON.parse(rng.pick(JSON_VALUES));
  const head = rng.bool(0.9) ? (seed[0] as number) : rng.int(256);
  return Buffer.concat([Buffer.from([head]), Buffer.from(JSON.stringify(body))]);
}

export const peerApi: FuzzTarget = {
  name: 'peer-api',
  title: 'Peer API request bodies (every POST route)',
  contract:
    'no 5xx (but 503 while starting), no error logged; every 4xx answers JSON {code, message}; the process keeps serving',
  maxLen: 70 * 1024,
  cover: ['/firmware/wire/', '/firmware/collab/'],
  dictionary: [
    '{',
    '}',
    '[',
    ']',
    ',',
    ':',
    '"',
    '\\u0000',
    '\\ud800',
    'null',
    '1e400',
    '"__proto__":',
    '"constructor":{"prototype":{}}',
    '"id":',
    '"' + 'c'.repeat(32) + '"',
    '"accepted"',
    '"expired"',
    '-0',
  ].map((s) => Buffer.from(s)),
  async setup() {
    api = await start();
  },
  async teardown() {
    if (!api) return;
    await api.app.close();
    await api.collab.stop();
    rmSync(api.dir, { recursive: true, force: true });
    api = null;
  },
  seeds: () => seedBodies((api as Api).routes),
  generate: (rng) => generateBody(rng, (api as Api).routes),
  async run(input) {
    const a = api as Api;
    const head = input[0] ?? 0;
    const route = a.routes[head % a.routes.length] as Api['routes'][number];
    a.caller = head & 0x80 ? STRANGER : CONTACT;
    const url = route.url.replace(':id', head & 0x40 ? 'no-such-session' : a.session);
    a.lines.length = 0;
    const res = await a.app.inject({
      method: route.method as 'POST',
      url,
      payload: input.subarray(1),
      headers: { 'content-type': 'application/json' },
    });
    a.clock.advance(7000); // rate limits refill, expiries run
    const where = `${route.method} ${route.url} → ${res.statusCode}`;
    if (res.statusCode >= 500) throw new ContractError(`${where}: ${res.body.slice(0, 200)}`);
    const err = a.lines.find((l) => l.level === 'error');
    if (err) throw new ContractError(`${where}: error logged: ${String(err.msg)} ${String(err.err ?? '')}`);
    if (res.statusCode >= 400) {
      let body: { code?: unknown; message?: unknown };
      try {
        body = JSON.parse(res.body) as typeof body;
      } catch {
        throw new ContractError(`${where}: error body is not JSON`);
      }
      if (typeof body.code !== 'string' || typeof body.message !== 'string')
        throw new ContractError(`${where}: error body without code/message`);
    }
  },
};
