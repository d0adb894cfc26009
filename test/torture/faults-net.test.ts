/**
 * Network faults in the LAN lab (issue 7): 4 real agents with 30 % packet loss on every node (nftables)
 * and link flaps. Discovery converges (every hub lists and verifies every other, a status change is
 * seen); a batch of invitations sent through it ends, once healed, in a defined state both sides agree
 * on (none lost, none stuck pending); session members hold the host's log in order after a member's and
 * the host's cable were out; a host killed with -9 is reported lost, restarted it has its session,
 * roster and pending invitation, and members attach again.
 */
import t from 'tap';
import { labSkipReason } from '../lab/harness.js';
import { NET_CI, networkFaults } from './faults.js';

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const rows = await networkFaults(t, NET_CI, (l) => t.comment(l));
  t.same(
    rows.map((r) => r.name.split(':')[0]),
    ['discovery', 'invitations', 'session', 'host crash (kill -9) mid-session'],
    'every scenario ran',
  );
  for (const r of rows) {
    t.comment(`${r.name}: ${JSON.stringify(r.figures)}`);
    t.same(r.problems, [], r.name);
  }
  const inv = rows.find((r) => r.name.startsWith('invitations'));
  t.equal(inv?.figures.lost, 0, 'no invitation lost');
  t.ok(Number(inv?.figures.sent) >= NET_CI.rounds * (NET_CI.hubs - 1), 'the batches were sent');
}
