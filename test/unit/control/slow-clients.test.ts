/**
 * Slow local clients on the control socket (issue 7, torture "slow clients"): a client trickling its
 * request headers or its body is dropped once the limits pass (fastify's default left a body without
 * any limit: the connection and its file descriptor stayed forever); an event stream, whose request is
 * complete, stays open; other clients are answered meanwhile.
 */
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildControlApi, CONTROL_LIMITS } from '../../../firmware/control/app.js';
import { fakeAgent } from './fake-agent.js';
import { until } from '../wait.js';

const LIMITS = { headersTimeoutMs: 300, requestTimeoutMs: 600, checkIntervalMs: 100, maxConnections: 256 };

interface Client {
  sock: Socket;
  closed: boolean;
  data: string;
}

function client(path: string, first: string, trickle: string): Client {
  const c: Client = { sock: connect({ path }), closed: false, data: '' };
  let i = 0;
  const timer = setInterval(() => {
    if (i < trickle.length && !c.closed) c.sock.write(trickle[i++] as string);
  }, 50);
  c.sock.on('connect', () => c.sock.write(first));
  c.sock.on('data', (d: Buffer) => (c.data += d.toString()));
  c.sock.on('error', () => undefined);
  c.sock.on('close', () => {
    c.closed = true;
    clearInterval(timer);
  });
  return c;
}

t.test('defaults: every limit is set', async (t) => {
  t.ok(CONTROL_LIMITS.headersTimeoutMs > 0 && CONTROL_LIMITS.headersTimeoutMs <= 60_000);
  t.ok(CONTROL_LIMITS.requestTimeoutMs > 0 && CONTROL_LIMITS.requestTimeoutMs <= 120_000);
  t.ok(CONTROL_LIMITS.maxConnections > 0);
  const app = buildControlApi(fakeAgent());
  t.teardown(() => app.close());
  t.equal(app.server.requestTimeout, CONTROL_LIMITS.requestTimeoutMs, 'request time-out set on the server');
  t.equal(app.server.headersTimeout, CONTROL_LIMITS.headersTimeoutMs, 'headers time-out set on the server');
  t.equal(app.server.maxConnections, CONTROL_LIMITS.maxConnections);
});

t.test('slow headers and slow bodies are dropped; events streams and others are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-slow-'));
  const path = join(dir, 'control.sock');
  const agent = fakeAgent();
  const app = buildControlApi(agent, LIMITS);
  await app.listen({ path });
  t.teardown(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const long = 'a'.repeat(2000); // 100 s at one byte per 50 ms: never finishes within the test
  const slowHeaders = client(path, 'GET /v1/status HTTP/1.1\r\nHost: x\r\n', `X-Slow: ${long}`);
  const slowBody = client(
    path,
    'PUT /v1/presence HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"status":"Busy","text":"',
    long,
  );
  const events = client(path, 'GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n', '');

  await until('slow headers dropped', () => (slowHeaders.closed ? true : undefined));
  await until('slow body dropped', () => (slowBody.closed ? true : undefined));
  t.ok(slowHeaders.closed, 'a client trickling its headers is dropped');
  t.ok(slowBody.closed, 'a client trickling its body is dropped');
  // Node answers 408 and closes; the client, still writing, may see the reset before it reads that.
  t.ok(
    slowBody.data === '' || /^HTTP\/1\.1 408/.test(slowBody.data),
    `the slow body is told 408 or reset: ${JSON.stringify(slowBody.data.slice(0, 40))}`,
  );

  // Well past both limits: the event stream (a complete request) is still open and still delivers.
  t.notOk(events.closed, 'the event stream is still open');
  agent.bus.emit('presence:changed', { status: 'Away' });
  await until('the event', () => (events.data.includes('presence:changed') ? true : undefined));
  t.match(events.data, /presence:changed/, 'and still delivers events');
  t.notOk(events.closed, 'and stays open');
  events.sock.destroy();

  const ok = client(path, 'GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', '');
  await until('status answered', () => (ok.closed ? true : undefined));
  t.match(ok.data, /^HTTP\/1\.1 200/, 'another client is answered');
});
