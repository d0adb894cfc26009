/**
 * The python3-zeroconf anchor (Debian's /usr/bin/python3, python3-zeroconf 0.47): the same
 * measurements as run.ts's peerhub and avahi sides, with test/lab/zeroconf_peer.py as publisher
 * (one process = one "hub" publishing one service) and as observer (a ServiceBrowser that prints
 * add/update/remove with the resolved TXT). Every time comes from the helpers' output stamped on
 * arrival here (Stream), never from polling.
 *
 *   npm run bench -- --only zeroconf [--samples 30 --cycles 10 --zeroconf-out docs/bench/zeroconf.json]
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot, type Lab, type Stamped, type Stream } from '../lab/harness.js';
import { log, summarize, type Summary } from './common.js';

export interface ZcEvent {
  ev:
    | 'ready'
    | 'registered'
    | 'conflict'
    | 'add'
    | 'update'
    | 'remove'
    | 'updated'
    | 'unregistered'
    | 'closed'
    | 'error';
  name?: string;
  txt?: Record<string, string | null>;
  resolved?: boolean;
  error?: string;
}

export interface ZeroconfPeerOptions {
  browse?: boolean;
  name?: string; // publish this instance
  host?: string; // host label
  port?: number;
  txt?: string[];
  type?: string;
}

/** One test/lab/zeroconf_peer.py process in a lab node: a publisher and/or browser. */
export class ZeroconfPeer {
  readonly stream: Stream<ZcEvent>;
  readonly startedAt: number;

  constructor(
    lab: Lab,
    readonly node: number,
    opts: ZeroconfPeerOptions,
  ) {
    const args = [join(repoRoot(), 'test/lab/zeroconf_peer.py'), '--interface', lab.address(node)];
    if (opts.browse) args.push('--browse');
    if (opts.type) args.push('--type', opts.type);
    if (opts.name) {
      args.push('--name', opts.name, '--host', opts.host ?? `zc-${lab.subnet}-${node}`);
      args.push('--port', String(opts.port ?? 7443), ...(opts.txt ?? []));
    }
    this.startedAt = performance.now();
    this.stream = lab.spawn<ZcEvent>(node, '/usr/bin/python3', args, {
      name: `zeroconf${node}`,
      parse: (l) => (l.startsWith('{') ? (JSON.parse(l) as ZcEvent) : undefined),
      maxRecords: 50_000,
    });
  }

  get pid(): number | undefined {
    return this.stream.pid;
  }

  get running(): boolean {
    return this.stream.running;
  }

  waitFor(
    pred: (e: ZcEvent) => boolean,
    opts: { since?: number; timeout?: number } = {},
  ): Promise<Stamped<ZcEvent>> {
    return this.stream.waitForRecord(pred, opts);
  }

  /** Resolves with the `registered` record (throws on a conflict). */
  async registered(timeout = 30_000): Promise<Stamped<ZcEvent>> {
    const r = await this.waitFor((e) => e.ev === 'registered' || e.ev === 'conflict', { timeout });
    if (r.value.ev === 'conflict') throw new Error(`${this.stream.name}: name conflict`);
    return r;
  }

  /** update_service with a new TXT (the helper prints `updated` once the call returned). */
  update(txt: readonly string[]): void {
    this.stream.send(`txt ${txt.join(' ')}`);
  }

  /** unregister + close + exit (goodbye packets). */
  quit(): void {
    this.stream.send('quit');
  }

  /** kill -9. */
  kill(): Promise<unknown> {
    if (this.stream.running) this.stream.proc.kill('SIGKILL');
    return this.stream.exited;
  }

  stop(): Promise<unknown> {
    return this.stream.stop('SIGTERM', 5_000);
  }
}

export interface ZeroconfSide {
  startSeen?: Summary;
  changeFromRequest?: Summary;
  changeFromAck?: Summary;
  stopGone?: Summary;
  stopExit?: Summary;
}

const STATES = ['Busy', 'Away', 'OnThePhone', 'Online'] as const;

/**
 * start → seen, status change → seen (from request / from ack), graceful stop → gone, on lab nodes
 * `subject` (publisher) and `observer` (browser).
 */
export async function benchZeroconf(
  lab: Lab,
  nodes: { subject: number; observer: number },
  samples: number,
  cycles: number,
): Promise<ZeroconfSide> {
  const NAME = 'Bench Zeroconf';
  const observer = new ZeroconfPeer(lab, nodes.observer, { browse: true });
  await observer.waitFor((e) => e.ev === 'ready', { timeout: 30_000 });
  const startSeen: number[] = [];
  const stopGone: number[] = [];
  const stopExit: number[] = [];
  const fromReq: number[] = [];
  const fromAck: number[] = [];
  let seq = 0;
  for (let c = 0; c < cycles; c++) {
    const t0 = performance.now();
    const pub = new ZeroconfPeer(lab, nodes.subject, {
      name: NAME,
      host: `zc-bench-${lab.subnet}`,
      txt: ['v=1', 'st=Online'],
    });
    const found = await observer.waitFor((e) => e.ev === 'add' && e.name === NAME && e.resolved === true, {
      since: t0,
      timeout: 30_000,
    });
    startSeen.push(found.t - t0);
    await pub.registered();
    if (c === 0) {
      for (let k = 0; k < samples; k++) {
        const state = STATES[k % STATES.length] as string;
        const s = String(++seq); // seq makes every TXT new, like peerhub's
        const tReq = performance.now();
        pub.update(['v=1', `st=${state}`, `seq=${s}`]);
        const seenP = observer.waitFor(
          (e) => (e.ev === 'update' || e.ev === 'add') && e.name === NAME && e.txt?.seq === s,
          { since: tReq, timeout: 30_000 },
        );
        seenP.catch(() => undefined); // awaited below
        const ack = await pub.waitFor((e) => e.ev === 'updated' || e.ev === 'error', {
          since: tReq,
          timeout: 10_000,
        });
        if (ack.value.ev === 'error') throw new Error(`zeroconf update: ${ack.value.error}`);
        const seen = await seenP;
        fromReq.push(seen.t - tReq);
        fromAck.push(seen.t - ack.t);
      }
      log(
        `zeroconf: ${samples} TXT updates, p50 ${summarize(fromReq)?.p50} ms from request, ${summarize(fromAck)?.p50} ms from ack`,
      );
    }
    const tStop = performance.now();
    pub.quit();
    const lost = await observer.waitFor((e) => e.ev === 'remove' && e.name === NAME, {
      since: tStop,
      timeout: 30_000,
    });
    await pub.stream.exited;
    stopGone.push(lost.t - tStop);
    stopExit.push(performance.now() - tStop);
    log(
      `zeroconf cycle ${c + 1}/${cycles}: seen ${(found.t - t0).toFixed(0)} ms, gone ${(lost.t - tStop).toFixed(0)} ms`,
    );
  }
  await observer.stop();
  return {
    startSeen: summarize(startSeen),
    changeFromRequest: summarize(fromReq),
    changeFromAck: summarize(fromAck),
    stopGone: summarize(stopGone),
    stopExit: summarize(stopExit),
  };
}

export const ZEROCONF_NOTES = [
  'zeroconf = Debian python3-zeroconf 0.47 under /usr/bin/python3 (test/lab/zeroconf_peer.py), one process per hub publishing one service; the observer is another zeroconf_peer.py running a ServiceBrowser that prints add/update/remove with the TXT read from its cache (asked for, bounded, if the announcement did not carry it all).',
  'start → seen: spawn of the python publisher (interpreter start, import, Zeroconf(), register_service: probes + announcement) until the observer prints the resolved add.',
  'status change: update_service with a new TXT (seq unique) — request: line written to the helper; ack: the helper printed that update_service returned. update_service returns only after its three announcements (225 ms apart), so the ack comes after the observer has seen the change and "from ack" is negative.',
  'graceful stop: `quit` to the helper (unregister_service: three goodbyes 125 ms apart, then close) until the observer prints remove; "exit" is until the process ended.',
  'python-zeroconf probes at 175 ms intervals (_CHECK_TIME), not RFC 6762 §8.1’s 250 ms, and announces 225 ms apart instead of 1 s, 2 s: its start → seen is shorter for that reason; peerhub keeps the RFC timing.',
];
