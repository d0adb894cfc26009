#!/usr/bin/env node
/**
 * A peer-API client for the lab, run inside a node's namespace (`ip netns exec NS node peer_client.mjs`),
 * with a hub's TLS credentials. Prints one JSON object on stdout. Every wait is bounded.
 *
 *   peer_client.mjs request --host H [--port 7443] [--cert tls.cert.pem --key tls.key.pem --chain root.cert.pem]
 *       [--ca root.cert.pem] [--method GET] [--path /v1/card] [--body-bytes N] [--timeout-ms 10000]
 *     → { ok, status, body, ms, alpn, protocol, serverId, error }      (ok: a response arrived)
 *   peer_client.mjs storm --host H [creds] --n 1000 [--hold-ms 1000] [--cert-every 2] [--deadline-ms 60000]
 *     → { n, secure, refused, errors: {code: count}, closedByServer, pending, ms }
 *       every attempt opened at once (bounded by n ≤ 5000); every 'cert-every'-th one presents the credentials
 *   peer_client.mjs bench --host H [creds] [--handshakes 200] [--requests 300] [--interval-ms 55] [--path /v1/presence]
 *     → { handshakeMs: [...], firstRequestMs: [...], requestMs: [...], statuses: {status: count} }
 *
 * Without --ca the server is not verified (its peer id is still reported as serverId).
 */
import { readFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';
import { X509Certificate, createHash } from 'node:crypto';

const { positionals, values: o } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '7443' },
    cert: { type: 'string' },
    key: { type: 'string' },
    chain: { type: 'string' },
    ca: { type: 'string' },
    method: { type: 'string', default: 'GET' },
    path: { type: 'string', default: '/v1/card' },
    'body-bytes': { type: 'string' },
    'timeout-ms': { type: 'string', default: '10000' },
    n: { type: 'string', default: '1000' },
    'hold-ms': { type: 'string', default: '1000' },
    'cert-every': { type: 'string', default: '2' },
    'deadline-ms': { type: 'string', default: '60000' },
    handshakes: { type: 'string', default: '200' },
    requests: { type: 'string', default: '300' },
    'interval-ms': { type: 'string', default: '55' },
  },
});
const mode = positionals[0];
const host = o.host;
const port = Number(o.port);
if (!host || !['request', 'storm', 'bench'].includes(mode ?? '')) {
  console.error('usage: peer_client.mjs request|storm|bench --host H [options] (see the header)');
  process.exit(2);
}
const bounded = (v, lo, hi) => Math.max(lo, Math.min(hi, Number(v) || lo));

const creds =
  o.cert && o.key
    ? {
        cert: readFileSync(o.cert, 'utf8') + (o.chain ? '\n' + readFileSync(o.chain, 'utf8') : ''),
        key: readFileSync(o.key, 'utf8'),
      }
    : {};
const ca = o.ca ? readFileSync(o.ca, 'utf8') : undefined;

function tlsOptions(withCreds = true) {
  return {
    host,
    port,
    ALPNProtocols: ['h2'],
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ...(withCreds ? creds : {}),
    ...(ca ? { ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
    checkServerIdentity: () => undefined, // peers are named by their root's key, not by a host name
  };
}

/** Peer id of the self-signed root at the end of the server's chain (as identity/peerid.ts computes it). */
async function serverIdOf(socket) {
  let c = socket.getPeerCertificate(true);
  for (let i = 0; c && c.issuerCertificate && c.issuerCertificate !== c && i < 24; i++)
    c = c.issuerCertificate;
  if (!c || !c.raw) return null;
  try {
    const { peerIdFromCertificate } = await import('../../dist/firmware/identity/index.js');
    return peerIdFromCertificate(new X509Certificate(c.raw).toString());
  } catch {
    // dist not built: fall back to the SPKI hash in hex (still distinguishes keys)
    return createHash('sha256')
      .update(new X509Certificate(c.raw).publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex');
  }
}

function errCode(e) {
  return (e && (e.code || e.message)) || 'unknown';
}

/** One session over an explicit TLS socket; resolves once connected (or rejects). */
function openSession(timeoutMs, withCreds = true) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let socket;
    const session = h2connect(`https://${host}:${port}`, {
      createConnection: () => (socket = tlsConnect(tlsOptions(withCreds))),
    });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('ETIMEDOUT: session not connected in time'));
    }, timeoutMs);
    session.once('connect', () => {
      clearTimeout(timer);
      resolve({ session, socket, connectMs: performance.now() - t0 });
    });
    session.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    session.once('close', () => {
      clearTimeout(timer);
      reject(new Error('ECONNRESET: session closed before connect'));
    });
  });
}

function request(session, method, path, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const headers = { ':method': method, ':path': path, accept: 'application/json' };
    if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': body.length });
    let stream;
    try {
      stream = session.request(headers, { endStream: !body });
    } catch (e) {
      reject(e);
      return;
    }
    const timer = setTimeout(() => {
      stream.close();
      reject(new Error('ETIMEDOUT: no response in time'));
    }, timeoutMs);
    let status = null;
    const chunks = [];
    let size = 0;
    stream.on('response', (h) => (status = h[':status']));
    stream.on('data', (d) => {
      size += d.length;
      if (size < 1 << 20) chunks.push(d);
    });
    stream.on('end', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text.slice(0, 2000);
      }
      resolve({ status, body: parsed, ms: performance.now() - t0 });
    });
    stream.on('error', (e) => {
      clearTimeout(timer);
      if (status !== null)
        resolve({ status, body: null, ms: performance.now() - t0, streamError: errCode(e) });
      else reject(e);
    });
    if (body) stream.end(body);
  });
}

function jsonBody(bytes) {
  const pad = Math.max(0, bytes - '{"pad":""}'.length);
  return Buffer.from(`{"pad":"${'a'.repeat(pad)}"}`);
}

async function modeRequest() {
  const timeoutMs = bounded(o['timeout-ms'], 100, 60_000);
  const out = { ok: false, status: null, body: null, ms: null, alpn: null, protocol: null, serverId: null };
  let s;
  try {
    s = await openSession(timeoutMs, true);
    out.alpn = s.socket.alpnProtocol || null;
    out.protocol = s.socket.getProtocol();
    out.serverId = await serverIdOf(s.socket);
    const body = o['body-bytes'] ? jsonBody(bounded(o['body-bytes'], 1, 16 << 20)) : undefined;
    const r = await request(s.session, o.method, o.path, body, timeoutMs);
    Object.assign(out, r, { ok: r.status !== null });
  } catch (e) {
    out.error = errCode(e);
  } finally {
    s?.session.destroy();
  }
  return out;
}

async function modeStorm() {
  const n = bounded(o.n, 1, 5000);
  const holdMs = bounded(o['hold-ms'], 0, 30_000);
  const every = bounded(o['cert-every'], 0, n);
  const deadlineMs = bounded(o['deadline-ms'], 1000, 300_000);
  const t0 = performance.now();
  const res = { n, secure: 0, refused: 0, closedByServer: 0, pending: 0, errors: {}, ms: 0 };
  const sockets = new Set();
  const done = [];
  for (let i = 0; i < n; i++) {
    done.push(
      new Promise((resolve) => {
        const withCreds = every > 0 && i % every === 0;
        let secure = false;
        let settled = false;
        let hold;
        const finish = (kind, e) => {
          if (settled) return;
          settled = true;
          clearTimeout(hold);
          sockets.delete(socket);
          if (kind === 'error') {
            const c = errCode(e);
            if (c === 'ECONNREFUSED') res.refused++;
            res.errors[c] = (res.errors[c] ?? 0) + 1;
          } else if (kind === 'closed') res.closedByServer++;
          socket.destroy();
          resolve();
        };
        const socket = tlsConnect(tlsOptions(withCreds));
        sockets.add(socket);
        socket.once('secureConnect', () => {
          secure = true;
          res.secure++;
          socket.resume(); // read, so a close by the server is seen
          hold = setTimeout(() => finish('held'), holdMs);
        });
        socket.on('error', (e) => finish('error', e));
        socket.once('close', () =>
          finish(secure ? 'closed' : 'error', new Error('ECONNRESET before handshake')),
        );
      }),
    );
  }
  const all = Promise.all(done);
  const timer = new Promise((r) => setTimeout(r, deadlineMs));
  await Promise.race([all, timer]);
  res.pending = sockets.size;
  for (const s of sockets) s.destroy();
  res.ms = Math.round(performance.now() - t0);
  return res;
}

async function modeBench() {
  const handshakes = bounded(o.handshakes, 0, 5000);
  const requests = bounded(o.requests, 0, 5000);
  const interval = bounded(o['interval-ms'], 0, 10_000);
  const out = { handshakeMs: [], firstRequestMs: [], requestMs: [], statuses: {}, errors: {} };
  const count = (m, k) => (m[k] = (m[k] ?? 0) + 1);
  // 1. the mutual TLS 1.3 handshake alone: TCP connect + handshake until the client's secureConnect.
  for (let i = 0; i < handshakes; i++) {
    await new Promise((resolve) => {
      const t0 = performance.now();
      const s = tlsConnect(tlsOptions(true));
      const timer = setTimeout(() => {
        count(out.errors, 'handshake timeout');
        s.destroy();
        resolve();
      }, 10_000);
      s.once('secureConnect', () => {
        out.handshakeMs.push(performance.now() - t0);
        clearTimeout(timer);
        s.destroy();
        resolve();
      });
      s.once('error', (e) => {
        count(out.errors, errCode(e));
        clearTimeout(timer);
        resolve();
      });
    });
  }
  // 2. a cold request: new session (handshake + server's chain check) + first GET, a few times.
  for (let i = 0; i < Math.min(20, handshakes); i++) {
    const t0 = performance.now();
    try {
      const s = await openSession(10_000, true);
      const r = await request(s.session, 'GET', o.path, undefined, 10_000);
      count(out.statuses, `cold ${r.status}`);
      out.firstRequestMs.push(performance.now() - t0);
      s.session.destroy();
    } catch (e) {
      count(out.errors, errCode(e));
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  // 3. warm: one session, sequential requests paced under the per-peer rate limit.
  if (requests > 0) {
    const s = await openSession(10_000, true);
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      try {
        const r = await request(s.session, 'GET', o.path, undefined, 10_000);
        count(out.statuses, String(r.status));
        if (r.status === 200) out.requestMs.push(r.ms);
      } catch (e) {
        count(out.errors, errCode(e));
      }
      const left = interval - (performance.now() - t0);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
    }
    s.session.destroy();
  }
  return out;
}

const run = { request: modeRequest, storm: modeStorm, bench: modeBench }[mode];
const result = await run();
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
