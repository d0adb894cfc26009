/**
 * Expiry timers that fire before the wall clock reaches the deadline — a millisecond early, as Node's
 * timers can, or because the wall clock was set back (NTP stepping the time) — must look again, never
 * leave an invitation or host request pending past its expiry (found by the faults torture, issue 7).
 * And a host's refusal of a late answer carries its state over the real peer API: the invitee adopts it.
 */
import t from 'tap';
import { createHostRequests } from '../../../firmware/collab/host-requests.js';
import type { HostRequestEvents } from '../../../firmware/collab/host-requests-types.js';
import { EXPIRY_CHECK_MS } from '../../../firmware/collab/invitations.js';
import { settle } from '../../../firmware/collab/invitations-wire.js';
import { createPeerTransport } from '../../../firmware/collab/peer-transport.js';
import { ManualClock, type Timer } from '../../../firmware/core/clock.js';
import { PeerhubError } from '../../../firmware/core/errors.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { remoteError } from '../../../firmware/wire/client.js';
import { BOB, HOST, network, T0 } from './invitations-helpers.js';

/** Fires every timer longer than 1 ms one millisecond early (by its own wall clock). */
class EarlyClock extends ManualClock {
  override setTimer(ms: number, fn: () => void): Timer {
    return super.setTimer(ms > 1 ? ms - 1 : ms, fn);
  }
}

/** Timers run on the monotonic clock; `now()` (the wall clock) is shifted by `offset`. */
class SteppedClock extends ManualClock {
  offset = 0;
  override now(): number {
    return super.now() + this.offset;
  }
}

const DAY = 24 * 60 * 60_000;

t.test('an invitation expires although its timer fired a millisecond early', async (t) => {
  const net = network(t);
  const clock = new EarlyClock(T0);
  const h = await net.hub(HOST, {}, clock);
  const [inv] = await h.service.invite([BOB], { sessionId: 's1', message: 'hi', expiresInMs: 60_000 });
  await net.quiet();
  clock.advance(61_000);
  await net.quiet();
  t.match(h.service.get(inv!.id), { state: 'expired', reason: 'no answer in time' });
  t.equal(clock.pending, 0, 'no timer left');
});

t.test('wall clock set back a day, then corrected: the invitation still expires', async (t) => {
  const net = network(t);
  const clock = new SteppedClock(T0);
  const h = await net.hub(HOST, {}, clock);
  const b = await net.hub(BOB, {}, clock);
  const [inv] = await h.service.invite([BOB], { sessionId: 's1', message: 'hi', expiresInMs: 60_000 });
  await net.quiet();
  t.equal(b.service.get(inv!.id).state, 'pending', 'delivered');
  clock.offset = -DAY;
  clock.advance(5 * 60_000);
  await net.quiet();
  t.equal(h.service.get(inv!.id).state, 'pending', 'a day before its expiry by the wall clock: pending');
  clock.offset = 0; // corrected: five minutes past the expiry
  clock.advance(EXPIRY_CHECK_MS);
  await net.quiet();
  t.match(
    h.service.get(inv!.id),
    { state: 'expired' },
    `expired within ${EXPIRY_CHECK_MS} ms of the correction`,
  );
  t.match(b.service.get(inv!.id), { state: 'expired' }, 'the invitee too');
  t.equal(clock.pending, 0, 'no timer left');
});

t.test('a host request expires although its timer fired early or the clock was set back', async (t) => {
  for (const clock of [new EarlyClock(T0), new SteppedClock(T0)]) {
    const events: string[] = [];
    const host = createHostRequests({
      clock,
      logger: silentLogger(),
      bus: {
        emit<K extends keyof HostRequestEvents & string>(type: K, data: HostRequestEvents[K]) {
          events.push(`${type} ${data.request.state}`);
        },
      },
      isContact: () => false,
      openSession: async () => 'session-1',
      transport: {
        sendHostRequest: async () => {
          throw new PeerhubError('PH_ERR_PEER_UNREACHABLE', 'no');
        },
        sendHostAnswer: async () => undefined,
      },
    });
    host.setPolicy('ask');
    await host.start();
    t.teardown(() => host.stop());
    settle(await host.onHostRequest(BOB, { id: 'a'.repeat(32), message: 'host?' }));
    const [req] = host.list({ state: 'pending' });
    t.ok(req, 'pending');
    const left = (req?.expiresAt ?? 0) - clock.now();
    if (clock instanceof SteppedClock) {
      clock.offset = -DAY;
      clock.advance(left + 1000);
      t.equal(host.get(req!.id).state, 'pending', 'a day left by the wall clock');
      clock.offset = 0;
      clock.advance(EXPIRY_CHECK_MS);
    } else clock.advance(left + 1000);
    await new Promise((r) => setImmediate(r));
    t.equal(host.get(req!.id).state, 'expired', `${clock.constructor.name}: expired`);
    t.equal(clock.pending, 0, 'no timer left');
  }
});

t.test('a refused answer carrying the host’s state is that state (real peer transport)', async (t) => {
  const target = { host: '10.0.0.1', port: 7443, peerId: HOST };
  let refusal: unknown = null;
  const transport = createPeerTransport({
    client: {
      request: async () => {
        throw refusal;
      },
      subscribe: async () => {
        throw new Error('unused');
      },
    },
    resolve: () => target,
    chainFor: () => [],
  });
  const body = { id: 'b'.repeat(32), answer: 'accepted' as const };
  refusal = remoteError(target, 'POST /v1/invitations/answer', 409, {
    code: 'PH_ERR_INVITATION_CLOSED',
    message: 'invitation is already expired',
    statusCode: 409,
    state: 'expired',
  });
  t.same(await transport.sendAnswer(HOST, body), { state: 'expired' }, 'adopted');
  refusal = remoteError(target, 'POST /v1/invitations/answer', 404, {
    code: 'PH_ERR_INVITATION_NOT_FOUND',
    message: 'no invitation',
    statusCode: 404,
  });
  await t.rejects(
    transport.sendAnswer(HOST, body),
    { code: 'PH_ERR_INVITATION_NOT_FOUND' },
    'other refusals stay errors',
  );
  refusal = new PeerhubError('PH_ERR_PEER_UNREACHABLE', 'down');
  await t.rejects(transport.sendAnswer(HOST, body), { code: 'PH_ERR_PEER_UNREACHABLE' });
});
