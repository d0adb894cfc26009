/**
 * Clock jumps (issue 7, faults): two whole agents in this process, one whose wall clock jumps +1 day,
 * −1 day and to 1970 (and back) while its timers run on the monotonic clock, as when NTP steps the
 * time. Each jump: the agent keeps answering, invitations end in the state its clock decides and both
 * sides agree, the peers stay verified, and no timer is longer than Node can hold.
 */
import t from 'tap';
import { clockJumps, CLOCK_CI } from './faults.js';

const rows = await clockJumps(t, CLOCK_CI, (l) => t.comment(l));
t.equal(rows.length, 3, 'three jumps: +1 day, −1 day, 1970');
for (const r of rows) {
  t.comment(`${r.name}: ${JSON.stringify(r.figures)}`);
  t.same(r.problems, [], r.name);
  t.equal(r.result, 'pass', `${r.name}: ${r.detail ?? ''}`);
}
