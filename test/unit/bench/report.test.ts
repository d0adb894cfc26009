import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildReport } from '../../../test/bench/report.js';

const summary = (p50: number, p99: number, n: number) => ({ p50, p99, n, min: p50, max: p99, mean: p50 });

t.test('the agent start rows come from latest.json; absent figures stay empty', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ph-report-'));
  writeFileSync(
    join(dir, 'latest.json'),
    JSON.stringify({
      date: '2026-12-04T03:00:00.000Z',
      peerhub: {
        startReady: summary(1320, 1480, 29),
        startReadyCpu: summary(452, 530, 29),
        firstBootReady: { ms: 1710, cpuMs: 880 },
      },
    }),
  );
  const { markdown } = buildReport(dir);
  t.match(
    markdown,
    /\| agent start → ready, later boots [^|]*\| 1\.32 s <small>\(p99 1\.48 s, n=29\)<\/small> \|/,
  );
  t.match(
    markdown,
    /\| … CPU the agent used until ready \(p50\) \| 452 ms <small>\(p99 530 ms, n=29\)<\/small> \|/,
  );
  t.match(
    markdown,
    /\| agent first boot → ready \(keys made\) \| 1\.71 s <small>\(CPU 880 ms, n=1\)<\/small> \|/,
  );

  const empty = mkdtempSync(join(tmpdir(), 'ph-report-'));
  writeFileSync(
    join(empty, 'latest.json'),
    JSON.stringify({ date: '2026-12-04T03:00:00.000Z', peerhub: {} }),
  );
  t.match(buildReport(empty).markdown, /\| agent first boot → ready \(keys made\) \| — \|/);
});
