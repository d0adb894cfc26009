/**
 * Disk full in the LAN lab (issue 7): a hub whose data directory is a 2 MB tmpfs, filled to the last
 * block while it runs. Presence, policy, contact and invitation writes are refused with
 * PH_ERR_STORE_WRITE and change nothing; the agent keeps answering; once space is freed writes work
 * again; after a restart nothing stored is lost or quarantined as corrupt.
 */
import t from 'tap';
import { labSkipReason } from '../lab/harness.js';
import { DISK_CI, diskFull } from './faults.js';

const skip = await labSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  const [r] = await diskFull(t, DISK_CI, (l) => t.comment(l));
  t.comment(`${r?.name}: ${JSON.stringify(r?.figures)}`);
  t.same(r?.problems, [], r?.name ?? 'disk full');
  t.equal(r?.figures.apiCode, 'PH_ERR_STORE_WRITE', 'the control API names the failure');
  t.equal(r?.figures.storedRecordsLost, 0, 'nothing stored was lost');
  t.equal(r?.figures.corruptFiles, 0, 'no store file quarantined');
}
