import t from 'tap';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { isPeerhubError } from '../../../firmware/core/errors.js';
import { generateRootKeyPair } from '../../../firmware/identity/cert.js';
import { issueCertificate } from '../../../firmware/identity/issue.js';
import { startPeerServer, type PeerServerInit } from '../../../firmware/wire/server.js';
import {
  corruptSignature,
  fakeDeps,
  makePeer,
  startClient,
  startServer,
  until,
  type TestPeer,
} from './helpers.js';

const [a, b, c] = await Promise.all([makePeer(), makePeer(), makePeer()]);

/** A server for `peer` with a `whoami` route that answers the caller's id as the server saw it. */
async function serve(peer: TestPeer, init: PeerServerInit = {}) {
  const handled: string[] = [];
  const s = await startServer(t, peer, {
    ...init,
    routes: (app) => {
      app.addHook('preHandler', async (req) => void handled.push(req.url));
      app.get('/v1/whoami', async (req) => ({ peerId: req.peer.peerId }));
    },
  });
  return Object.assign(s, { handled });
}

t.test('client fetches the card over HTTP/2 mutual TLS; the server sees the client id', async (t) => {
  const server = await serve(a);
  const { client } = startClient(t, b);
  const card = await client.request<{ peerId: string; rootCertPem: string }>(
    server.target,
    'GET',
    '/v1/card',
  );
  t.equal(card.peerId, a.peerId);
  t.equal(card.rootCertPem, a.rootCertPem);
  t.same(await client.request(server.target, 'GET', '/v1/whoami'), { peerId: b.peerId });
  t.same(await client.request(server.target, 'GET', '/v1/presence'), {
    status: 'Online',
    text: 'cooking',
    seq: 3,
  });
});

t.test('connection reuse: many requests, one TLS session', async (t) => {
  const server = await serve(a);
  const { client } = startClient(t, b);
  let tlsSessions = 0;
  server.server.on('secureConnection', () => tlsSessions++);
  await Promise.all(Array.from({ length: 10 }, () => client.request(server.target, 'GET', '/v1/presence')));
  for (let i = 0; i < 10; i++) await client.request(server.target, 'GET', '/v1/card');
  t.equal(tlsSessions, 1);
  t.equal(client.sessions, 1);
  t.equal(server.counters().sessions, 1);
});

t.test('spoof: B answers where A is expected → PH_ERR_PEER_SPOOF, event, no handler reached', async (t) => {
  const server = await serve(b);
  const { client, seen } = startClient(t, c);
  const target = { ...server.target, peerId: a.peerId };
  const err = await client.request(target, 'GET', '/v1/card').catch((e: unknown) => e);
  t.ok(isPeerhubError(err, 'PH_ERR_PEER_SPOOF'), String(err));
  t.match((err as Error).message, new RegExp(`presented peer id ${b.peerId}, expected ${a.peerId}`));
  t.match(seen, [
    {
      type: 'peer:spoof',
      data: { expected: a.peerId, presented: b.peerId, host: '127.0.0.1', port: server.port },
    },
  ]);
  t.same(server.handled, []);
  t.equal(client.sessions, 0, 'the spoofing session is not kept');
  t.same(await client.request(server.target, 'GET', '/v1/whoami'), { peerId: c.peerId }, 'B as B is fine');
});

t.test('clients without a certificate or with a bad chain are rejected; others still served', async (t) => {
  const server = await serve(a);
  // No client certificate at all.
  const anon = h2connect(`https://127.0.0.1:${server.port}`, { rejectUnauthorized: false });
  anon.on('error', () => undefined);
  const req = anon.request({ ':path': '/v1/card' });
  req.on('error', () => undefined);
  const status = await new Promise<unknown>((resolve) => {
    req.on('response', (h) => resolve(h[':status']));
    req.on('close', () => resolve('closed'));
  });
  t.equal(status, 'closed');
  anon.destroy();
  t.ok(await until(() => server.counters()['rejected:PH_ERR_CHAIN_EMPTY'] === 1, 2000));

  // A chain whose leaf signature does not verify with the root.
  const forged = {
    keyPem: b.creds.keyPem,
    chainPem: [corruptSignature(b.creds.chainPem[0] as string), b.rootCertPem],
  };
  const { client: bad } = startClient(t, { ...b, creds: forged });
  const err = await bad.request(server.target, 'GET', '/v1/card').catch((e: unknown) => e);
  t.ok(isPeerhubError(err), String(err));
  t.ok(await until(() => server.counters()['rejected:PH_ERR_CHAIN_SIGNATURE'] === 1, 2000));
  t.equal(server.counters().rejectedChains, 2);
  t.same(server.handled, [], 'no request reached a handler');

  const { client: good } = startClient(t, c);
  t.same(await good.request(server.target, 'GET', '/v1/whoami'), { peerId: c.peerId });
});

t.test('limits over the wire: 413, 429, 404 as JSON errors', async (t) => {
  const server = await startServer(t, a, {
    rateLimit: { perSecond: 1, burst: 5 },
    routes: (app) => app.post('/v1/echo', async (req) => req.body),
  });
  const { client } = startClient(t, b);
  const big = await client
    .request(server.target, 'POST', '/v1/echo', { s: 'x'.repeat(70_000) })
    .catch((e) => e);
  t.match(big, { code: 'PH_ERR_BODY_TOO_LARGE', statusCode: 413 });
  const nf = await client.request(server.target, 'GET', '/v1/nope').catch((e) => e);
  t.match(nf, { code: 'PH_ERR_NOT_FOUND', statusCode: 404 });
  const results = await Promise.all(
    Array.from({ length: 6 }, () => client.request(server.target, 'GET', '/v1/presence').catch((e) => e)),
  );
  t.ok(results.some((r) => isPeerhubError(r, 'PH_ERR_RATE_LIMITED') && r.statusCode === 429));
});

t.test('a slow client (TLS, then nothing) is dropped by the headers time-out', async (t) => {
  const server = await startServer(t, a, { headersTimeoutMs: 300 });
  const socket = tlsConnect({
    host: '127.0.0.1',
    port: server.port,
    key: b.creds.keyPem,
    cert: b.creds.chainPem.join('\n'),
    ALPNProtocols: ['h2'],
    rejectUnauthorized: false,
  });
  t.teardown(() => socket.destroy());
  socket.on('error', () => undefined);
  socket.resume(); // read, so the server's close is seen
  const started = Date.now();
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const took = Date.now() - started;
  t.ok(took < 3000, `closed after ${took} ms`);
  t.equal(server.counters().headersTimeouts, 1);
});

t.test('connections beyond maxConnections are refused', async (t) => {
  const server = await serve(a, { maxConnections: 1 });
  const { client: one } = startClient(t, b);
  await one.request(server.target, 'GET', '/v1/card');
  const { client: two } = startClient(t, c);
  const err = await two.request(server.target, 'GET', '/v1/card').catch((e: unknown) => e);
  t.ok(isPeerhubError(err), String(err));
  t.equal(server.counters().refusedConnections, 1);
  t.same(
    await one.request(server.target, 'GET', '/v1/whoami'),
    { peerId: b.peerId },
    'the first still works',
  );
});

t.test('certificate rotation: new sessions get the new leaf, the peer id stays', async (t) => {
  let creds = a.creds;
  const listeners = new Set<() => void>();
  const credentials = {
    current: () => creds,
    onRotate: (fn: () => void) => (listeners.add(fn), () => void listeners.delete(fn)),
  };
  const server = await startPeerServer({ ...fakeDeps(a), credentials }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => server.stop());
  const leafSeen = (): Promise<string | undefined> =>
    new Promise((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port: server.port,
        key: b.creds.keyPem,
        cert: b.creds.chainPem.join('\n'),
        ALPNProtocols: ['h2'],
        rejectUnauthorized: false,
      });
      s.on('error', () => undefined);
      s.once('secureConnect', () => {
        resolve(s.getPeerX509Certificate()?.fingerprint256);
        s.destroy();
      });
    });
  t.equal(await leafSeen(), new X509Certificate(a.creds.chainPem[0] as string).fingerprint256);
  const key = await generateRootKeyPair();
  const leaf = issueCertificate({
    issuerCertPem: a.rootCertPem,
    issuerKeyPem: a.rootKeyPem,
    subjectPublicKeyPem: key.publicKeyPem,
    profile: 'tls',
    now: Date.now(),
  });
  creds = { keyPem: key.privateKeyPem, chainPem: [leaf, a.rootCertPem] };
  for (const fn of listeners) fn();
  t.equal(await leafSeen(), new X509Certificate(leaf).fingerprint256, 'new leaf presented');
  const { client } = startClient(t, b);
  const target = { peerId: a.peerId, host: '127.0.0.1', port: server.port };
  t.match(await client.request(target, 'GET', '/v1/card'), { peerId: a.peerId }, 'same peer id');
  await server.stop();
  t.equal(listeners.size, 0, 'stop() unsubscribes from rotation');
});
