import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger } from '../../../firmware/core/logger.js';

function capture(): { dest: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { dest, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

t.test('a child of a child names each key once; the innermost value wins', async (t) => {
  const { dest, lines } = capture();
  const log = createLogger('info', dest);
  const inner = log.child({ component: 'tls', id: 'A' }).child({ component: 'tls-certificates', n: 1 });
  inner.info({ x: 2 }, 'issued');
  const [line] = lines();
  t.ok(line, 'one line written');
  t.equal(line!.match(/"component":/g)?.length, 1, 'component once');
  t.equal(line!.match(/"app":/g)?.length, 1, 'app once');
  t.match(JSON.parse(line!), {
    app: 'peerhub',
    component: 'tls-certificates',
    id: 'A',
    n: 1,
    x: 2,
    msg: 'issued',
  });
});

t.test('children keep level filtering and key redaction', async (t) => {
  const { dest, lines } = capture();
  const log = createLogger('warn', dest).child({ component: 'a' }).child({ component: 'b' });
  log.info({}, 'dropped');
  log.warn({ key: 'SECRET', keyPem: 'PEM', peer: 'x' }, 'kept');
  const all = lines();
  t.equal(all.length, 1, 'info below warn is dropped');
  t.notMatch(all[0]!, /SECRET|PEM/, 'keys are never logged');
  t.match(JSON.parse(all[0]!), { level: 'warn', component: 'b', peer: 'x' });
});
