/** Test peers (real keys and certificates), fake agent deps, a server and a client on 127.0.0.1. */
import { X509Certificate } from 'node:crypto';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { EventBus } from '../../../firmware/core/bus.js';
import { systemClock, type Clock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import {
  createRootCertificate,
  generateRootKeyPair,
  peerIdFromCertificate,
} from '../../../firmware/identity/cert.js';
import { issueCertificate } from '../../../firmware/identity/issue.js';
import { PeerClient, type PeerClientInit } from '../../../firmware/wire/client.js';
import { startPeerServer, type PeerServer, type PeerServerInit } from '../../../firmware/wire/server.js';
import type { PeerApiDeps, PeerTarget, TlsCredentials, WireEvents } from '../../../firmware/wire/types.js';

export interface TestPeer {
  peerId: string;
  rootCertPem: string;
  rootKeyPem: string;
  creds: TlsCredentials;
}

/** A peer: identity root plus a TLS leaf issued by it (chain = [leaf, root]). */
export async function makePeer(now = Date.now()): Promise<TestPeer> {
  const root = await generateRootKeyPair();
  const rootCertPem = createRootCertificate({ ...root, now });
  const tls = await generateRootKeyPair();
  const leaf = issueCertificate({
    issuerCertPem: rootCertPem,
    issuerKeyPem: root.privateKeyPem,
    subjectPublicKeyPem: tls.publicKeyPem,
    profile: 'tls',
    now,
  });
  return {
    peerId: peerIdFromCertificate(rootCertPem),
    rootCertPem,
    rootKeyPem: root.privateKeyPem,
    creds: { keyPem: tls.privateKeyPem, chainPem: [leaf, rootCertPem] },
  };
}

/** The same certificate with one bit of its signature flipped (the TLS key still matches it). */
export function corruptSignature(pem: string): string {
  const der = Buffer.from(new X509Certificate(pem).raw);
  der[der.length - 1] = (der[der.length - 1] as number) ^ 0x01;
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

export type FakeDeps = PeerApiDeps & { bus: EventBus<Record<string, unknown>>; blocked: Set<string> };

export function fakeDeps(peer: TestPeer, clock: Clock = systemClock): FakeDeps {
  const bus = new EventBus<Record<string, unknown>>(() => clock.now());
  const blocked = new Set<string>();
  return {
    bus,
    blocked,
    logger: silentLogger(),
    clock,
    card: () => ({
      peerId: peer.peerId,
      nickname: 'Kitchen',
      displayName: '',
      email: '',
      classifier: 'kitchen-hub',
      peerName: `${peer.peerId}.kitchen-hub`,
      rootCertPem: peer.rootCertPem,
      endpoints: ['127.0.0.1:7443'],
    }),
    presence: () => ({ status: 'Online', text: 'cooking', seq: 3 }),
    applications: (_caller: string) => [],
    objects: (_caller: string) => [],
    events: bus,
    authorizeSubscriber: (id) => !blocked.has(id),
  };
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function startServer(
  t: Teardown,
  peer: TestPeer,
  init: PeerServerInit = {},
  deps: FakeDeps = fakeDeps(peer),
): Promise<PeerServer & { deps: FakeDeps; target: PeerTarget }> {
  const server = await startPeerServer(
    { ...deps, credentials: { current: () => peer.creds } },
    { host: '127.0.0.1', port: 0, ...init },
  );
  t.teardown(() => server.stop());
  return Object.assign(server, {
    deps,
    target: { peerId: peer.peerId, host: '127.0.0.1', port: server.port },
  });
}

export function startClient(
  t: Teardown,
  peer: TestPeer,
  init: PeerClientInit = {},
): { client: PeerClient; seen: Array<{ type: keyof WireEvents; data: unknown; at: number }> } {
  const seen: Array<{ type: keyof WireEvents; data: unknown; at: number }> = [];
  const client = new PeerClient(
    {
      clock: systemClock,
      logger: silentLogger(),
      credentials: () => peer.creds,
      events: { emit: (type, data) => seen.push({ type, data, at: Date.now() }) },
    },
    init,
  );
  t.teardown(() => client.close());
  return { client, seen };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` every 20 ms until true or `ms` elapse. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

/** A TCP relay that can turn into a black hole (a host that lost power: no FIN, no RST, nothing). */
export async function relay(
  t: { teardown(fn: () => void): void },
  port: number,
): Promise<{ port: number; blackhole(): void }> {
  let dropping = false;
  const sockets: Socket[] = [];
  const server = createServer((down) => {
    const up = netConnect(port, '127.0.0.1');
    sockets.push(down, up);
    for (const s of [down, up]) s.on('error', () => undefined);
    down.on('data', (d) => void (dropping || up.write(d)));
    up.on('data', (d) => void (dropping || down.write(d)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, blackhole: () => void (dropping = true) };
}
