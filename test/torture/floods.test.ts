/**
 * The bounded CI subset of the torture part "floods" (floods.ts; the full run is `npm run torture`):
 * one lab, the same scenarios with smaller numbers — 300 concurrent TLS attempts (test/lab/trust.test.ts
 * runs 1,000), 60 byte-by-byte TLS
 * hellos + 20 never-ending HTTP/2 bodies + 30 slow control-socket clients, and a mixed mDNS flood of
 * 1,000 packets/s for 8 s. Every check of every scenario is asserted; figures are printed as comments.
 */
import t, { type Test } from 'tap';
import { createLab, labSkipReason } from '../lab/harness.js';
import { floodLab, mdnsFlood, slowClients, tlsStorm } from './floods.js';
import type { Outcome } from './checks.js';

function assert(t: Test, out: Outcome): void {
  t.comment(`${out.row.name}: ${JSON.stringify(out.row.figures)}`);
  for (const c of out.checks) t.ok(c.ok, c.what);
}

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 3 });
  const f = await floodLab(lab);
  await t.test('300 concurrent TLS connection attempts', async (t) =>
    assert(t, await tlsStorm(f, { n: 300 })),
  );
  await t.test('slow clients on the peer API and the control socket', async (t) =>
    assert(t, await slowClients(f, { hello: 60, sessions: 2, streams: 10, control: 30 })),
  );
  await t.test('mDNS flood 1,000/s × 8 s', async (t) =>
    assert(t, await mdnsFlood(f, { rate: 1000, seconds: 8, seed: 7 })),
  );
}
