#!/usr/bin/env node
/**
 * Slow clients (slowloris) against a hub, bounded in count and time. Prints one JSON line.
 *
 *   slow_clients.mjs tls-hello --host H [--port 7443] [--n 200] [--byte-ms 1000] [--deadline-ms 60000]
 *       TCP connections that send a real TLS 1.3 ClientHello one byte every --byte-ms, never finishing.
 *   slow_clients.mjs h2-body --host H --cert C --key K [--chain R] [--sessions 8] [--streams 25]
 *       [--byte-ms 1000] [--deadline-ms 60000]
 *       Authenticated HTTP/2 sessions whose POST streams announce a 4 KB body and send one byte every
 *       --byte-ms, never finishing.
 *   slow_clients.mjs control --socket /path/control.sock [--n 100] [--byte-ms 1000] [--deadline-ms 150000]
 *       Connections to the control API's Unix socket, in thirds: trickling request headers one byte at a
 *       time; complete headers of a PUT announcing a 4 KB body, then trickling the body; silent.
 *
 * Output: { n, opened, closedByServer, answeredByServer, pending, refused, errors, closeMs: {min,p50,max}, ms }
 * closedByServer: the server ended the connection (or reset the stream) before our deadline;
 * answeredByServer: of those, how many got a response first (e.g. 408); pending: still open at the
 * deadline (then closed by us). Every connection is closed before exit.
 */
import { connect as netConnect, createServer } from 'node:net';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { positionals, values: o } = parseArgs({
  allowPositionals: true,
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '7443' },
    socket: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    chain: { type: 'string' },
    n: { type: 'string', default: '100' },
    sessions: { type: 'string', default: '8' },
    streams: { type: 'string', default: '25' },
    'byte-ms': { type: 'string', default: '1000' },
    'deadline-ms': { type: 'string', default: '60000' },
  },
});
const mode = positionals[0];
const bounded = (v, lo, hi) => Math.max(lo, Math.min(hi, Number(v) || lo));
const byteMs = bounded(o['byte-ms'], 10, 10_000);
const deadlineMs = bounded(o['deadline-ms'], 1000, 300_000);
const t0 = performance.now();

const res = {
  mode,
  n: 0,
  opened: 0,
  closedByServer: 0,
  answeredByServer: 0,
  pending: 0,
  refused: 0,
  errors: {},
  closeMs: { min: null, p50: null, max: null },
  ms: 0,
};
const closeTimes = [];
let connecting = 0; // h2 sessions neither connected nor failed yet
let finished = false; // past the deadline: closes from now on are ours
const open = new Set(); // { destroy() }

/** Track one slow client: `settle('closed'|'error', e)` once; the trickle stops with it. */
function tracker(destroy) {
  const started = performance.now();
  let done = false;
  let trickle;
  const h = {
    answered: false,
    setTrickle: (t) => (trickle = t),
    settle(kind, e) {
      if (done || finished) return;
      done = true;
      clearInterval(trickle);
      open.delete(h);
      if (kind === 'closed') {
        res.closedByServer++;
        if (h.answered) res.answeredByServer++;
        closeTimes.push(performance.now() - started);
      } else {
        const c = (e && (e.code || e.message)) || 'unknown';
        if (c === 'ECONNREFUSED') res.refused++;
        res.errors[c] = (res.errors[c] ?? 0) + 1;
      }
      destroy();
    },
    destroy,
  };
  open.add(h);
  return h;
}

/** A real ClientHello: what Node's TLS client sends first, caught by a local TCP server. */
function captureClientHello() {
  return new Promise((resolve, reject) => {
    const srv = createServer((sock) => {
      sock.once('data', (d) => {
        resolve(Buffer.from(d));
        sock.destroy();
        srv.close();
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      const c = tlsConnect({
        host: '127.0.0.1',
        port: srv.address().port,
        ALPNProtocols: ['h2'],
        rejectUnauthorized: false,
      });
      c.on('error', () => undefined);
    });
    setTimeout(() => reject(new Error('no ClientHello captured')), 5000).unref();
  });
}

/** Write `bytes` one at a time every byteMs on `sock` (a net.Socket or h2 stream). */
function trickleBytes(h, sock, bytes) {
  let i = 0;
  h.setTrickle(
    setInterval(() => {
      if (i >= bytes.length) return; // everything but the end: keep the connection waiting
      try {
        sock.write(bytes.subarray(i, i + 1));
      } catch {
        // the server already closed it: its close event settles
      }
      i++;
    }, byteMs),
  );
}

async function tlsHello() {
  const n = (res.n = bounded(o.n, 1, 5000));
  const hello = await captureClientHello();
  const partial = hello.subarray(0, hello.length - 1); // never the last byte
  for (let i = 0; i < n; i++) {
    const sock = netConnect({ host: o.host, port: Number(o.port) });
    const h = tracker(() => sock.destroy());
    let connected = false; // ended after connecting: the server closed it; before: refused
    sock.once('connect', () => {
      connected = true;
      res.opened++;
      trickleBytes(h, sock, partial);
    });
    sock.on('data', () => (h.answered = true));
    sock.on('error', (e) => h.settle(connected ? 'closed' : 'error', e));
    sock.once('close', () =>
      h.settle(connected ? 'closed' : 'error', new Error('ECONNRESET before connect')),
    );
  }
}

async function h2Body() {
  const cert = readFileSync(o.cert, 'utf8') + (o.chain ? '\n' + readFileSync(o.chain, 'utf8') : '');
  const key = readFileSync(o.key, 'utf8');
  const sessions = bounded(o.sessions, 1, 64);
  const streams = bounded(o.streams, 1, 100);
  res.n = sessions * streams;
  res.sessionsClosedByServer = 0;
  res.sessionErrors = {};
  const body = Buffer.from(`{"id":"${'0'.repeat(32)}","pad":"${'a'.repeat(4000)}"}`);
  for (let s = 0; s < sessions; s++) {
    const session = h2connect(`https://${o.host}:${o.port}`, {
      createConnection: () =>
        tlsConnect({
          host: o.host,
          port: Number(o.port),
          cert,
          key,
          ALPNProtocols: ['h2'],
          minVersion: 'TLSv1.3',
          rejectUnauthorized: false,
        }),
    });
    connecting++;
    let connected = false;
    const settled = () => {
      if (!connected) {
        connected = true;
        connecting--;
      }
    };
    session.on('error', (e) => {
      settled();
      const c = e.code || e.message;
      res.sessionErrors[c] = (res.sessionErrors[c] ?? 0) + 1;
    });
    session.once('close', () => {
      settled();
      if (!finished) res.sessionsClosedByServer++;
    });
    session.once('connect', () => {
      settled();
      res.sessionsConnected = (res.sessionsConnected ?? 0) + 1;
      for (let i = 0; i < streams; i++) {
        let stream;
        try {
          stream = session.request({
            ':method': 'POST',
            ':path': '/v1/invitations',
            'content-type': 'application/json',
            'content-length': String(body.length),
          });
        } catch (e) {
          const c = e.code || e.message;
          res.errors[c] = (res.errors[c] ?? 0) + 1;
          continue;
        }
        res.opened++;
        const h = tracker(() => stream.destroyed || stream.close());
        stream.on('response', () => (h.answered = true));
        stream.on('data', () => undefined);
        stream.on('error', () => undefined);
        stream.once('close', () => h.settle('closed'));
        trickleBytes(h, stream, body.subarray(0, body.length - 1));
      }
    });
    res.sessionsOpened = (res.sessionsOpened ?? 0) + 1;
    open.add({ destroy: () => session.destroy(), settle: () => undefined });
  }
}

async function control() {
  const n = (res.n = bounded(o.n, 1, 2000));
  const kinds = ['headers', 'body', 'silent'];
  res.byKind = Object.fromEntries(kinds.map((k) => [k, { n: 0, closed: 0, answered: 0 }]));
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length];
    res.byKind[kind].n++;
    const sock = netConnect({ path: o.socket });
    const h = tracker(() => sock.destroy());
    const settle = h.settle;
    h.settle = (k, e) => {
      if (k === 'closed' && open.has(h)) {
        res.byKind[kind].closed++;
        if (h.answered) res.byKind[kind].answered++;
      }
      settle(k, e);
    };
    let connected = false;
    sock.once('connect', () => {
      connected = true;
      res.opened++;
      if (kind === 'headers') {
        sock.write('GET /v1/status HTTP/1.1\r\nHost: peerhub\r\n');
        trickleBytes(h, sock, Buffer.from(`X-Slow: ${'a'.repeat(4000)}\r\n\r\n`).subarray(0, -2));
      } else if (kind === 'silent') {
        h.setTrickle(setInterval(() => undefined, 60_000)); // connected, never a byte
      } else {
        sock.write(
          'PUT /v1/presence HTTP/1.1\r\nHost: peerhub\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"status":"Busy","text":"',
        );
        trickleBytes(h, sock, Buffer.from('a'.repeat(4000)));
      }
    });
    sock.on('data', () => (h.answered = true));
    sock.on('error', (e) => h.settle(connected ? 'closed' : 'error', e));
    sock.once('close', () =>
      h.settle(connected ? 'closed' : 'error', new Error('ECONNRESET before connect')),
    );
  }
}

const runner = { 'tls-hello': tlsHello, 'h2-body': h2Body, control }[mode];
if (!runner || (mode === 'control' ? !o.socket : !o.host) || (mode === 'h2-body' && !(o.cert && o.key))) {
  console.error('usage: slow_clients.mjs tls-hello|h2-body|control … (see the header)');
  process.exit(2);
}
await runner();
// Wait for the deadline or for every slow client to be settled.
await new Promise((resolve) => {
  const check = setInterval(() => {
    const waiting = [...open].filter((h) => h.setTrickle).length;
    if ((waiting === 0 && connecting === 0) || performance.now() - t0 >= deadlineMs) {
      clearInterval(check);
      resolve();
    }
  }, 100);
});
finished = true;
const left = [...open];
res.pending = left.filter((h) => h.setTrickle).length;
for (const h of left) h.destroy();
closeTimes.sort((a, b) => a - b);
if (closeTimes.length > 0) {
  res.closeMs = {
    min: Math.round(closeTimes[0]),
    p50: Math.round(closeTimes[Math.floor(closeTimes.length / 2)]),
    max: Math.round(closeTimes[closeTimes.length - 1]),
  };
}
res.ms = Math.round(performance.now() - t0);
process.stdout.write(JSON.stringify(res) + '\n');
process.exit(0);
