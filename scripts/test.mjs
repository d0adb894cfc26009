#!/usr/bin/env node
// The README's test command (`npm test`): build (lab tests run the compiled agent), run every tap test,
// and close with the plain line CI reads: `N passed, N failed, N skipped`.
import { spawn, spawnSync } from 'node:child_process';

const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const args = ['tap', '--reporter=tap', ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'inherit'] });
let summary = null;
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
  const m = /^# (\{ total: .*\})\s*$/m.exec(tail);
  if (m) summary = m[1];
});
child.on('close', (code) => {
  const counts = { total: 0, pass: 0, fail: 0, skip: 0, todo: 0 };
  if (summary) {
    for (const [, k, v] of summary.matchAll(/(\w+): (\d+)/g)) counts[k] = Number(v);
  }
  const failed = counts.fail || (code === 0 ? 0 : 1);
  const skipped = counts.skip + counts.todo;
  console.log(`\n${counts.pass} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
