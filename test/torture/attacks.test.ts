/**
 * The CI subset of the torture part "attacks" (attacks.ts; `npm run torture` runs the same scenarios and
 * writes the figures): one lab of three hubs and a raw node. Every check of every scenario is
 * asserted — refusals beside controls that must pass, so none of them can hold vacuously.
 */
import t, { type Test } from 'tap';
import { createLab, labSkipReason } from '../lab/harness.js';
import {
  attackLab,
  mdnsSources,
  membershipCertificates,
  removedContact,
  replayedRequests,
  spoofedPeerId,
  type AttackLab,
} from './attacks.js';
import type { Outcome } from './checks.js';

function assert(t: Test, out: Outcome): void {
  t.comment(`${out.row.name}: ${JSON.stringify(out.row.figures)}`);
  for (const c of out.checks) t.ok(c.ok, c.what);
}

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const lab = await createLab(t, { hubs: 4 });
  const a: AttackLab = await attackLab(lab);
  await t.test('spoofed peer id', async (t) => assert(t, await spoofedPeerId(a)));
  await t.test('mDNS: off-link, wrong port, TTL ≠ 255', async (t) => assert(t, await mdnsSources(a)));
  await t.test('replayed requests', async (t) => assert(t, await replayedRequests(a)));
  await t.test('membership certificates', async (t) => assert(t, await membershipCertificates(a)));
  await t.test('a removed contact', async (t) => assert(t, await removedContact(a)));
}
