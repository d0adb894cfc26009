#!/usr/bin/env node
/**
 * Send a list of requests to a hub's peer API over ONE mutual-TLS HTTP/2 session, as the holder of the
 * given client certificate — to replay a captured body, present a forged header, … Run in a lab node's
 * namespace. Prints one JSON line: { serverId, results: [{ status, body, error? }] }.
 *
 *   peer_requests.mjs --host H [--port 7443] --cert tls.cert.pem --key tls.key.pem [--chain root.cert.pem]
 *       --requests file.json [--timeout-ms 10000]
 *   file.json: [{ "method": "POST", "path": "/v1/invitations", "body": {...}, "headers": {...} }, …] (≤ 100)
 *
 * A response whose body never ends (an event stream) is read until the first line or 2 s, then closed:
 * its status is what counts.
 */
import { readFileSync } from 'node:fs';
import { connect as h2connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string', default: '7443' },
    cert: { type: 'string' },
    key: { type: 'string' },
    chain: { type: 'string' },
    requests: { type: 'string' },
    'timeout-ms': { type: 'string', default: '10000' },
  },
});
if (!o.host || !o.cert || !o.key || !o.requests) {
  console.error('usage: peer_requests.mjs --host H --cert C --key K [--chain R] --requests file.json');
  process.exit(2);
}
const timeoutMs = Math.max(100, Math.min(60_000, Number(o['timeout-ms']) || 10_000));
const list = JSON.parse(readFileSync(o.requests, 'utf8')).slice(0, 100);
const cert = readFileSync(o.cert, 'utf8') + (o.chain ? '\n' + readFileSync(o.chain, 'utf8') : '');
const key = readFileSync(o.key, 'utf8');

function open() {
  return new Promise((resolve, reject) => {
    let socket;
    const session = h2connect(`https://${o.host}:${o.port}`, {
      createConnection: () =>
        (socket = tlsConnect({
          host: o.host,
          port: Number(o.port),
          cert,
          key,
          ALPNProtocols: ['h2'],
          minVersion: 'TLSv1.3',
          rejectUnauthorized: false, // the caller checks what it needs; replays target a known hub
        })),
    });
    const timer = setTimeout(() => (session.destroy(), reject(new Error('ETIMEDOUT: connect'))), timeoutMs);
    session.once('connect', () => (clearTimeout(timer), resolve({ session, socket })));
    session.once('error', (e) => (clearTimeout(timer), reject(e)));
  });
}

function send(session, r) {
  return new Promise((resolve) => {
    const body = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
    const headers = {
      ':method': r.method ?? 'GET',
      ':path': r.path,
      accept: 'application/json',
      ...r.headers,
    };
    if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': body.length });
    let stream;
    try {
      stream = session.request(headers, { endStream: !body });
    } catch (e) {
      resolve({ status: null, body: null, error: e.code ?? e.message });
      return;
    }
    let status = null;
    const chunks = [];
    let done = false;
    const finish = (extra = {}) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(streamTimer);
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text.slice(0, 2000);
      }
      if (!stream.destroyed) stream.close();
      resolve({ status, body: parsed, ...extra });
    };
    let streamTimer;
    const timer = setTimeout(() => finish({ error: 'ETIMEDOUT: no response' }), timeoutMs);
    stream.on('response', (h) => {
      status = h[':status'];
      if (String(h['content-type'] ?? '').includes('ndjson')) streamTimer = setTimeout(() => finish(), 2000);
    });
    stream.on('data', (d) => {
      chunks.push(d);
      if (streamTimer && d.includes(10)) finish();
    });
    stream.on('end', () => finish());
    stream.on('error', (e) => finish({ error: e.code ?? e.message }));
    if (body) stream.end(body);
  });
}

const out = { serverId: null, results: [] };
let s;
try {
  s = await open();
  for (const r of list) out.results.push(await send(s.session, r));
} catch (e) {
  out.error = e.code ?? e.message;
} finally {
  s?.session.destroy();
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
