/** One small check over real sockets: multicast-dns on loopback (127.0.0.1), system clock. */
import t from 'tap';
import { EventBus } from '../../../firmware/core/bus.js';
import { systemClock } from '../../../firmware/core/clock.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import { createMdnsPresence, type PresenceEvents } from '../../../firmware/presence/index.js';

const until = async (cond: () => boolean, ms: number): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
};

t.test('two hubs find each other over real multicast on loopback, goodbye on stop', async (t) => {
  const tag = Math.random().toString(36).slice(2, 8);
  const mk = (nickname: string, peerId: string, port: number) => {
    const bus = new EventBus<PresenceEvents>();
    const svc = createMdnsPresence(
      { clock: systemClock, logger: silentLogger(), bus },
      { interface: '127.0.0.1', hostname: `${nickname}-${tag}`.toLowerCase(), ttlHost: 30, ttlService: 30 },
    );
    return {
      svc,
      bus,
      a: { nickname: `${nickname} ${tag}`, peerId, status: 'Online' as const, seq: 1, port },
    };
  };
  const a = mk('Alpha', 'AAAAAAA-BBBBBBB', 7443);
  const b = mk('Beta', 'CCCCCCC-DDDDDDD', 7444);
  try {
    await a.svc.start();
    await b.svc.start();
  } catch (err) {
    await a.svc.stop();
    t.comment(`skipped: no multicast on loopback here: ${String(err)}`);
    return;
  }
  t.teardown(async () => {
    await a.svc.stop();
    await b.svc.stop();
  });
  a.svc.announce(a.a);
  b.svc.announce(b.a);
  const seen = () => b.svc.peers().find((p) => p.instance === a.a.nickname);
  t.ok(await until(() => !!seen() && a.svc.peers().some((p) => p.instance === b.a.nickname), 5000), 'found');
  t.same(seen()?.endpoints, ['127.0.0.1:7443']);
  t.equal(seen()?.wellFormed, true);
  const lost: string[] = [];
  b.bus.on('peer:lost', (l) => lost.push(`${l.peer.instance}:${l.reason}`));
  await a.svc.stop();
  t.ok(await until(() => lost.includes(`${a.a.nickname}:goodbye`), 3000), 'goodbye seen');
});

t.test('an interface name that does not exist is a start error, not a wait', async (t) => {
  const svc = createMdnsPresence(
    { clock: systemClock, logger: silentLogger(), bus: new EventBus<PresenceEvents>() },
    { interface: 'nosuch0' },
  );
  await t.rejects(svc.start(), {
    code: 'PH_ERR_PRESENCE_SOCKET',
    message: /no network interface named nosuch0/,
  });
  await svc.stop();
});
