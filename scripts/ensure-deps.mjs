#!/usr/bin/env node
// Lets `npm start` and `npm test` work on a fresh clone: install the pinned dependencies (npm ci)
// when node_modules is missing or older than package-lock.json. A no-op otherwise.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const marker = 'node_modules/.package-lock.json';
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync('package-lock.json').mtimeMs;
if (stale) {
  console.error('peerhub: installing dependencies (npm ci)…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
