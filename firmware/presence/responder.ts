/**
 * Answering queries (RFC 6762 §6, §7.1, RFC 6763 §12) as a pure function: which of our records
 * answer, to whom (multicast, QU unicast, legacy unicast) and after which delay.
 */
import {
  LEGACY_TTL_MAX_S,
  MDNS_PORT,
  MULTICAST_MIN_INTERVAL,
  PROBE_DEFENCE_INTERVAL,
  SERVICE_TYPE,
  SHARED_DELAY_MAX,
  SHARED_DELAY_MIN,
} from './constants.js';
import { answersQuestion, recordKey, type OwnRecord } from './records.js';
import type { Endpoint } from './transport.js';
import { FLAG_AA, TYPE, nameKey, type Message, type ResourceRecord } from './wire.js';

export interface AnswerContext {
  records: OwnRecord[]; // records we may answer for (announcing or announced)
  now: number;
  lastMulticast: ReadonlyMap<string, number>; // recordKey → when we last multicast it
  random: () => number;
}

export interface Reply {
  dest: Endpoint | null; // null: multicast
  delay: number;
  message: Message;
}

export interface AnswerResult {
  replies: Reply[];
  suppressed: number; // known-answer suppression (§7.1)
  rateLimited: number; // §6: multicast at most once a second
}

const response = (answers: ResourceRecord[], additionals: ResourceRecord[] = []): Message => ({
  id: 0,
  flags: FLAG_AA,
  response: true,
  questions: [],
  answers,
  authorities: [],
  additionals,
});

function knownAnswer(msg: Message, r: OwnRecord): boolean {
  const key = recordKey(r);
  return msg.answers.some((k) => recordKey(k) === key && k.ttl >= r.ttl / 2);
}

/** RFC 6763 §12: PTR → SRV + TXT + addresses; SRV → addresses. */
function additionalsFor(answers: OwnRecord[], records: OwnRecord[], msg: Message): OwnRecord[] {
  const want = new Set<string>();
  for (const a of answers) {
    if (a.data.kind === 'PTR' && nameKey(a.name) === nameKey(SERVICE_TYPE)) {
      const target = nameKey(a.data.target);
      want.add(target);
      const srv = records.find((r) => r.data.kind === 'SRV' && nameKey(r.name) === target);
      if (srv?.data.kind === 'SRV') want.add(nameKey(srv.data.target));
    }
    if (a.data.kind === 'SRV') want.add(nameKey(a.data.target));
  }
  const have = new Set(answers.map(recordKey));
  return records.filter(
    (r) =>
      r.type !== TYPE.PTR && want.has(nameKey(r.name)) && !have.has(recordKey(r)) && !knownAnswer(msg, r),
  );
}

export function answerQuery(msg: Message, from: Endpoint, ctx: AnswerContext): AnswerResult {
  const result: AnswerResult = { replies: [], suppressed: 0, rateLimited: 0 };
  if (msg.response || msg.questions.length === 0) return result;
  const legacy = from.port !== MDNS_PORT;
  const isProbe = msg.authorities.length > 0;
  const multicast = new Map<string, OwnRecord>();
  const unicast = new Map<string, OwnRecord>();

  for (const q of msg.questions) {
    for (const r of ctx.records) {
      if (!answersQuestion(r, q)) continue;
      const key = recordKey(r);
      if (!legacy && knownAnswer(msg, r)) {
        result.suppressed++;
        continue;
      }
      const last = ctx.lastMulticast.get(key);
      const recentlyMulticast = last !== undefined && ctx.now - last < (r.ttl * 1000) / 4;
      if (legacy || (q.qu && recentlyMulticast)) {
        unicast.set(key, r);
        continue;
      }
      const minGap = isProbe ? PROBE_DEFENCE_INTERVAL : MULTICAST_MIN_INTERVAL;
      if (last !== undefined && ctx.now - last < minGap) {
        result.rateLimited++;
        continue;
      }
      multicast.set(key, r);
    }
  }

  const delayFor = (list: OwnRecord[]): number =>
    list.some((r) => !r.unique)
      ? SHARED_DELAY_MIN + Math.floor(ctx.random() * (SHARED_DELAY_MAX - SHARED_DELAY_MIN + 1))
      : 0;
  const strip = ({ unique: _u, ...r }: OwnRecord): ResourceRecord => r;

  if (unicast.size > 0) {
    const answers = [...unicast.values()];
    const extra = additionalsFor(answers, ctx.records, msg);
    if (legacy) {
      // §6.7: echo the id and questions, TTL ≤ 10 s, no cache-flush bit, straight back.
      const cap = (r: OwnRecord): ResourceRecord => ({
        ...strip(r),
        flush: false,
        ttl: Math.min(r.ttl, LEGACY_TTL_MAX_S),
      });
      const message = { ...response(answers.map(cap), extra.map(cap)), id: msg.id, questions: msg.questions };
      result.replies.push({ dest: from, delay: 0, message });
    } else {
      const message = response(answers.map(strip), extra.map(strip));
      result.replies.push({ dest: from, delay: delayFor(answers), message });
    }
  }
  if (multicast.size > 0) {
    const answers = [...multicast.values()];
    const extra = additionalsFor(answers, ctx.records, msg);
    result.replies.push({
      dest: null,
      delay: delayFor(answers),
      message: response(answers.map(strip), extra.map(strip)),
    });
  }
  return result;
}
