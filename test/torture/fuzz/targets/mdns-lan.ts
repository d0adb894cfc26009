/**
 * mDNS helpers shared by the fuzz targets: real packets made by the project's own responder on the
 * in-memory LAN (probe, announcement, query with known answers, answers, goodbye), and a
 * structure-aware generator of messages built with the project's encoder.
 */
import { EventBus } from '../../../../firmware/core/bus.js';
import { ManualClock } from '../../../../firmware/core/clock.js';
import { silentLogger } from '../../../../firmware/core/logger.js';
import { SERVICE_TYPE, SERVICES_ENUM } from '../../../../firmware/presence/constants.js';
import { createMdnsPresence, createTestLan } from '../../../../firmware/presence/index.js';
import type { PresenceEvents } from '../../../../firmware/presence/types.js';
import {
  CLASS_IN,
  TYPE,
  encodeMessage,
  type Message,
  type RData,
  type ResourceRecord,
} from '../../../../firmware/presence/wire.js';
import type { Rng } from '../engine.js';

export const PEER_IDS = ['AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD', 'EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH'];

/** mulberry32, for the responders' own jitter (deterministic seeds). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const emptyMessage = (over: Partial<Message> = {}): Message => ({
  id: 0,
  flags: 0,
  response: false,
  questions: [],
  answers: [],
  authorities: [],
  additionals: [],
  ...over,
});

/** Every datagram two real responders send while they probe, announce, browse, change status and leave. */
export async function capturedPackets(): Promise<Buffer[]> {
  const clock = new ManualClock();
  const lan = createTestLan({ clock, random: seeded(1) });
  const nodes = ['10.77.0.1', '10.77.0.2'].map((address, i) => {
    const bus = new EventBus<PresenceEvents>(() => clock.now());
    const svc = createMdnsPresence(
      { clock, logger: silentLogger(), bus, transport: lan.transport(address) },
      { random: seeded(i + 7) },
    );
    return svc;
  });
  for (const n of nodes) await n.start();
  nodes.forEach((n, i) =>
    n.announce({
      nickname: ['Kitchen', 'Office.Desk \\ 2'][i] as string,
      peerId: PEER_IDS[i] as string,
      status: 'Online',
      seq: 1,
      port: 7443,
    }),
  );
  clock.advance(10_000);
  nodes[0]?.announce({
    nickname: 'Kitchen',
    peerId: PEER_IDS[0] as string,
    status: 'Busy',
    seq: 2,
    port: 7443,
  });
  clock.advance(70_000); // cache refresh queries with known answers
  await nodes[1]?.withdraw();
  clock.advance(2000);
  for (const n of nodes) await n.stop();
  const seen = new Set<string>();
  const out: Buffer[] = [];
  for (const s of lan.log) {
    const k = s.packet.toString('hex');
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(s.packet);
  }
  return out;
}

// ---- generator ------------------------------------------------------------------------------------

const LABEL_BITS = ['Kitchen', 'peerhub-aaaaaa', 'a.b', 'x\\y', 'Ünïcødé', '', ' (2)', '_peerhub', '_tcp'];

function label(rng: Rng): string {
  if (rng.bool(0.5)) return rng.pick(LABEL_BITS) || 'k';
  const n = 1 + rng.int(rng.bool(0.9) ? 12 : 63);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(rng.bool(0.9) ? 0x20 + rng.int(95) : rng.int(0x800));
  return s;
}

function name(rng: Rng): string {
  switch (rng.int(5)) {
    case 0:
      return SERVICE_TYPE;
    case 1:
      return `${label(rng).replace(/[\\.]/g, (c) => '\\' + c)}.${SERVICE_TYPE}`;
    case 2:
      return `${label(rng).replace(/[\\.]/g, (c) => '\\' + c)}.local`;
    case 3:
      return SERVICES_ENUM;
    default:
      return Array.from({ length: 1 + rng.int(5) }, () => label(rng).replace(/[\\.]/g, (c) => '\\' + c)).join(
        '.',
      );
  }
}

function txtStrings(rng: Rng): Buffer[] {
  const good = [
    `v=1`,
    `id=${rng.pick(PEER_IDS)}`,
    `st=${rng.pick(['Online', 'Busy', 'Away', 'x'])}`,
    `seq=${rng.int(100)}`,
  ];
  const out = good.filter(() => rng.bool(0.8)).map((s) => Buffer.from(s));
  for (let i = rng.int(3); i > 0; i--) {
    const b = Buffer.alloc(rng.int(40));
    for (let j = 0; j < b.length; j++) b[j] = rng.bool(0.8) ? 0x20 + rng.int(95) : rng.int(256);
    out.push(b);
  }
  return out;
}

function rdata(rng: Rng): { type: number; data: RData } {
  switch (rng.int(6)) {
    case 0:
      return { type: TYPE.PTR, data: { kind: 'PTR', target: name(rng) } };
    case 1:
      return {
        type: TYPE.SRV,
        data: {
          kind: 'SRV',
          priority: rng.int(3),
          weight: rng.int(3),
          port: rng.int(65536),
          target: name(rng),
        },
      };
    case 2:
      return { type: TYPE.TXT, data: { kind: 'TXT', strings: txtStrings(rng) } };
    case 3:
      return { type: TYPE.A, data: { kind: 'A', address: `10.77.0.${rng.int(256)}` } };
    default: {
      const bytes = Buffer.alloc(rng.int(20));
      for (let j = 0; j < bytes.length; j++) bytes[j] = rng.int(256);
      return { type: rng.pick([TYPE.NSEC, 99, 0, TYPE.AAAA, 65535]), data: { kind: 'raw', bytes } };
    }
  }
}

function record(rng: Rng): ResourceRecord {
  const { type, data } = rdata(rng);
  return {
    name: name(rng),
    type,
    klass: rng.bool(0.9) ? CLASS_IN : rng.int(0x8000),
    flush: rng.bool(),
    ttl: rng.pick([0, 1, 10, 120, 4500, 0x7fffffff, 0xffffffff]),
    data,
  };
}

/** A message built by the project's encoder from random names and records. */
export function generateMessage(rng: Rng): Buffer {
  const list = (n: number, f: () => ResourceRecord) => Array.from({ length: rng.int(n) }, f);
  const m = emptyMessage({
    id: rng.bool(0.9) ? 0 : rng.int(65536),
    flags: rng.bool(0.9) ? (rng.bool() ? 0x400 : 0) : rng.int(0x8000),
    response: rng.bool(),
    questions: Array.from({ length: rng.int(4) }, () => ({
      name: name(rng),
      type: rng.pick([TYPE.PTR, TYPE.ANY, TYPE.SRV, TYPE.TXT, TYPE.A, rng.int(65536)]),
      klass: rng.bool(0.9) ? CLASS_IN : rng.int(0x8000),
      qu: rng.bool(0.3),
    })),
    answers: list(5, () => record(rng)),
    authorities: list(3, () => record(rng)),
    additionals: list(4, () => record(rng)),
  });
  try {
    return encodeMessage(m);
  } catch {
    return encodeMessage(
      emptyMessage({ questions: [{ name: SERVICE_TYPE, type: TYPE.PTR, klass: 1, qu: false }] }),
    );
  }
}

export const MDNS_DICTIONARY = [
  Buffer.from([0xc0, 0x0c]),
  Buffer.from([0xc0, 0x00]),
  Buffer.from([0x3f]),
  Buffer.from([0x40]),
  Buffer.from([0x00, 0x00]),
  Buffer.from([0x00, 0x10, 0x80, 0x01]), // TXT, flush IN
  Buffer.from([0x00, 0x21, 0x00, 0x01]), // SRV IN
  Buffer.from([0x00, 0x0c, 0x00, 0x01]), // PTR IN
  Buffer.from([0x00, 0xff, 0x80, 0x01]), // ANY QU
  Buffer.from([0x00, 0x1c, 0x00, 0x01]), // AAAA IN
  Buffer.from([0xff, 0xff, 0xff, 0xff]),
  Buffer.from('\x08_peerhub\x04_tcp\x05local\x00', 'latin1'),
  Buffer.from('\x05local\x00', 'latin1'),
  Buffer.from('v=1'),
  Buffer.from('id=AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD'),
  Buffer.from('st=Online'),
  Buffer.from('seq=99999999999999999'),
];
