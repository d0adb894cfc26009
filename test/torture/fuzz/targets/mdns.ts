/**
 * Fuzz targets of the mDNS side: the DNS message codec, the responder's receive path on the in-memory
 * LAN, and TXT parsing into People Near Me rows.
 */
import { isDeepStrictEqual } from 'node:util';
import { EventBus } from '../../../../firmware/core/bus.js';
import { ManualClock } from '../../../../firmware/core/clock.js';
import { silentLogger } from '../../../../firmware/core/logger.js';
import { buildRow } from '../../../../firmware/presence/avahi/rows.js';
import { txtFromDbus } from '../../../../firmware/presence/avahi/txt.js';
import { MDNS_PORT, SERVICE_TYPE } from '../../../../firmware/presence/constants.js';
import { createMdnsPresence, createTestLan } from '../../../../firmware/presence/index.js';
import { parseTxt } from '../../../../firmware/presence/names.js';
import type { TestTransport } from '../../../../firmware/presence/test-lan.js';
import {
  PRESENCE_STATES,
  type PresenceEvents,
  type PresenceService,
} from '../../../../firmware/presence/types.js';
import {
  CLASS_IN,
  TYPE,
  WireError,
  decodeMessage,
  encodeMessage,
  nameKey,
  type Message,
} from '../../../../firmware/presence/wire.js';
import type { FuzzTarget } from '../engine.js';
import {
  MDNS_DICTIONARY,
  PEER_IDS,
  capturedPackets,
  emptyMessage,
  generateMessage,
  seeded,
} from './mdns-lan.js';

const PRESENCE_COVER = ['/firmware/presence/'];

class ContractError extends Error {
  override name = 'ContractError';
}

const decodeOrNull = (b: Buffer): Message | null => {
  try {
    return decodeMessage(b);
  } catch (e) {
    if (e instanceof WireError) return null;
    throw e;
  }
};

// ---- (a) decoder ----------------------------------------------------------------------------------

/** decodeMessage: WireError or a message; what decodes re-encodes (or refuses with WireError) to the same message. */
export const mdnsDecoder: FuzzTarget = {
  name: 'mdns-decoder',
  title: 'mDNS decoder (decode, re-encode, decode)',
  contract:
    'decodeMessage returns a message or throws WireError; encodeMessage of a decoded message throws only WireError, and its output decodes to the same message',
  maxLen: 1500,
  cover: PRESENCE_COVER,
  dictionary: MDNS_DICTIONARY,
  seeds: capturedPackets,
  generate: generateMessage,
  run(input) {
    const m = decodeOrNull(input);
    if (!m) return;
    let again: Buffer;
    try {
      again = encodeMessage(m);
    } catch (e) {
      if (e instanceof WireError) return; // documented: e.g. AAAA encoding, a label > 63 bytes after UTF-8
      throw e;
    }
    const m2 = decodeMessage(again); // a WireError here is a finding: we wrote what we cannot read
    if (!isDeepStrictEqual(m, m2)) throw new ContractError('re-encoded message decodes differently');
  },
};

// ---- (b) receive path -------------------------------------------------------------------------------

interface Lan {
  clock: ManualClock;
  inject(packet: Buffer, port: number): void;
  svc: PresenceService;
  querier: TestTransport;
  heard: Buffer[];
  lines: Array<Record<string, unknown>>;
  expectedMalformed: number;
}

let lan: Lan | null = null;

async function startLan(): Promise<Lan> {
  const clock = new ManualClock();
  const net = createTestLan({ clock, random: seeded(3) });
  const lines: Array<Record<string, unknown>> = [];
  const bus = new EventBus<PresenceEvents>(() => clock.now(), 50);
  const svc = createMdnsPresence(
    { clock, logger: silentLogger(lines), bus, transport: net.transport('10.77.0.1') },
    { random: seeded(11) },
  );
  await svc.start();
  svc.announce({ nickname: 'Kitchen', peerId: PEER_IDS[0] as string, status: 'Online', seq: 1, port: 7443 });
  const querier = net.transport('10.77.0.2');
  await querier.open();
  const heard: Buffer[] = [];
  querier.onMessage((p) => void (heard.length < 1000 && heard.push(p)));
  clock.advance(10_000);
  return {
    clock,
    svc,
    querier,
    heard,
    lines,
    expectedMalformed: 0,
    inject: (packet, port) => net.inject(packet, { address: '10.77.0.3', port }),
  };
}

/** Does the responder still answer a plain PTR query for our service type (within a simulated minute)? */
function answersQuery(l: Lan): boolean {
  const q = encodeMessage(
    emptyMessage({ questions: [{ name: SERVICE_TYPE, type: TYPE.PTR, klass: CLASS_IN, qu: false }] }),
  );
  for (let t = 0; t < 60_000; t += 2000) {
    const instance = l.svc.names().instance;
    l.heard.length = 0;
    l.querier.send(q);
    l.clock.advance(2000);
    if (instance === null) continue;
    const want = nameKey(`${instance.replace(/[\\.]/g, (c) => '\\' + c)}.${SERVICE_TYPE}`);
    for (const p of l.heard) {
      const m = decodeOrNull(p);
      if (
        m?.response &&
        m.answers.some(
          (a) =>
            a.data.kind === 'PTR' &&
            nameKey(a.name) === nameKey(SERVICE_TYPE) &&
            nameKey(a.data.target) === want,
        )
      )
        return true;
    }
  }
  return false;
}

/** Raw datagrams at a running responder (source port 5353, or a legacy port when the id's top bit is set). */
export const mdnsReceive: FuzzTarget = {
  name: 'mdns-receive',
  title: 'mDNS responder receive path',
  contract:
    'no exception out of receive, no packet-handling error, every undecodable packet counted as malformed, and a valid query still answered (checked every 1,000 packets and at the end)',
  maxLen: 1500,
  cover: PRESENCE_COVER,
  dictionary: MDNS_DICTIONARY,
  seeds: capturedPackets,
  generate: generateMessage,
  async setup() {
    lan = await startLan();
  },
  async teardown() {
    await lan?.svc.stop();
    lan = null;
  },
  run(input) {
    const l = lan as Lan;
    if (decodeOrNull(input) === null) l.expectedMalformed++;
    l.lines.length = 0;
    const port = (input[0] ?? 0) & 0x80 ? 49152 + (input[1] ?? 0) : MDNS_PORT;
    l.inject(input, port);
    l.clock.advance(150);
    const c = l.svc.counters();
    if (c.errors !== 0) {
      const err = l.lines.find((x) => x.level === 'error');
      throw new ContractError(`packet handling failed: ${String(err?.err ?? 'unknown')}`);
    }
    if (c.malformed !== l.expectedMalformed) {
      throw new ContractError(`malformed counter ${c.malformed}, expected ${l.expectedMalformed}`);
    }
  },
  check() {
    if (!answersQuery(lan as Lan)) throw new ContractError('the responder no longer answers a valid query');
  },
};

// ---- (c) TXT -------------------------------------------------------------------------------------

const PEER_ID_RE = /^[A-Z2-7]{4,16}(-[A-Z2-7]{4,16}){0,15}$/;

/** TXT rdata → strings as the decoder splits them (tolerant split when the decoder refuses it). */
function txtStrings(rdata: Buffer): Buffer[] {
  const header = Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  const rr = Buffer.concat([
    Buffer.from('\x01x\x08_peerhub\x04_tcp\x05local\x00', 'latin1'),
    Buffer.from([0, TYPE.TXT, 0x80, 1, 0, 0, 0, 120, rdata.length >> 8, rdata.length & 0xff]),
  ]);
  const m = decodeOrNull(Buffer.concat([header, rr, rdata]));
  const a = m?.answers[0];
  if (a?.data.kind === 'TXT') return a.data.strings;
  const out: Buffer[] = [];
  for (let i = 0; i < rdata.length;) {
    const n = rdata[i] as number;
    out.push(rdata.subarray(i + 1, i + 1 + n));
    i += 1 + n;
  }
  return out;
}

/** TXT strings → a People Near Me row, on both backends' paths (wire strings, Avahi's `aay`). */
export const txtParsing: FuzzTarget = {
  name: 'txt',
  title: 'TXT parsing into a People Near Me row',
  contract:
    'parseTxt never throws; a well-formed row has a valid peer id, one of the 8 states and a safe integer seq; anything else is shown unverified (id null, status Unknown)',
  maxLen: 1300,
  cover: ['/firmware/presence/names', '/firmware/presence/avahi/', '/firmware/presence/wire'],
  dictionary: [
    ...[
      'v=1',
      'v=2',
      'id=',
      'st=',
      'seq=',
      '=',
      'ID=',
      'V=1',
      'St=Busy',
      'seq=-1',
      'seq=1e3',
      '__proto__=',
      'constructor=',
    ].map((s) => Buffer.from(s)),
    ...PRESENCE_STATES.map((s) => Buffer.from(s)),
    ...PEER_IDS.map((s) => Buffer.from(s)),
  ],
  seeds: () => {
    const txt = (...s: string[]) =>
      Buffer.concat(s.map((x) => Buffer.concat([Buffer.from([x.length]), Buffer.from(x)])));
    return [
      txt('v=1', `id=${PEER_IDS[0]}`, 'st=Online', 'seq=1'),
      txt('v=1', `id=${PEER_IDS[1]}`, 'st=OnThePhone', 'seq=123456789012345'),
      txt('path=/', 'txtvers=1'),
      Buffer.from([0]),
    ];
  },
  run(input) {
    const strings = txtStrings(input);
    const rows = [
      parseTxt(strings),
      parseTxt(txtFromDbus(strings.map((s) => [...s]))),
      buildRow(
        'Kitchen (2)',
        { host: 'h.local', address: '10.77.0.2', aprotocol: 0, port: 7443, txt: strings, at: 0 },
        0,
      ),
    ];
    const [a, b, row] = rows as [
      ReturnType<typeof parseTxt>,
      ReturnType<typeof parseTxt>,
      ReturnType<typeof buildRow>,
    ];
    if (!isDeepStrictEqual(a, b)) throw new ContractError('Avahi aay and wire strings parse differently');
    if (row.id !== a.id || row.status !== a.status || row.wellFormed !== a.wellFormed)
      throw new ContractError('Avahi row differs from parseTxt');
    if (a.wellFormed) {
      if (a.id === null || !PEER_ID_RE.test(a.id))
        throw new ContractError('well-formed row without a valid id');
      if (!(PRESENCE_STATES as readonly string[]).includes(a.status))
        throw new ContractError('well-formed row with an unknown status');
    } else if (a.id !== null || a.status !== 'Unknown') throw new ContractError('malformed TXT trusted');
    if (!Number.isSafeInteger(a.seq) || a.seq < 0) throw new ContractError(`seq ${a.seq}`);
    for (const [k, v] of Object.entries(a.txt)) {
      if (typeof v !== 'string' || k !== k.toLowerCase() || !/^[\x20-\x7e]+$/.test(k))
        throw new ContractError(`bad TXT key ${JSON.stringify(k)}`);
    }
  },
};
