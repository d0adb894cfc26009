/**
 * Known-answer lists (RFC 6762 §7.1, §7.2). A query's known answers go in as many packets as they need:
 * the first carries the questions and the answers that fit, with the TC bit set when more follow; each
 * next packet carries only known answers (TC set again if still more follow). A responder that sees TC
 * waits for the rest before answering (see assembler.ts). With one packet only (the first version), a
 * LAN of 100 hubs with short names had 27 of them answering every browse query — longer names, 60.
 */
import { FLAG_TC, encodeMessage, type Message } from './wire.js';

/** 1500-byte Ethernet MTU − 20 (IPv4 header) − 8 (UDP header): one unfragmented datagram (§17). */
export const MAX_QUERY_BYTES = 1472;
/** Packets per query at most (≈ 500 short known answers); any left out simply answer. */
export const MAX_KNOWN_ANSWER_PACKETS = 8;

/** The message with the longest prefix of its known answers that encodes within `maxBytes`. */
export function fitKnownAnswers(m: Message, maxBytes = MAX_QUERY_BYTES): Message {
  if (encodeMessage(m).length <= maxBytes) return m;
  // Binary search on the prefix length: names compress against earlier ones, so sizes are not additive.
  let lo = 0;
  let hi = m.answers.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (encodeMessage({ ...m, answers: m.answers.slice(0, mid) }).length <= maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return { ...m, answers: m.answers.slice(0, lo) };
}

/**
 * §7.2: the query as one or more packets, every known answer in one of them (up to `maxPackets`);
 * every packet but the last has TC set. A continuation has no questions, only known answers.
 */
export function splitKnownAnswers(
  m: Message,
  maxBytes = MAX_QUERY_BYTES,
  maxPackets = MAX_KNOWN_ANSWER_PACKETS,
): Message[] {
  const packets: Message[] = [];
  let rest = m.answers;
  let next: Message = m;
  while (packets.length < maxPackets) {
    const fitted = fitKnownAnswers({ ...next, answers: rest }, maxBytes);
    rest = rest.slice(fitted.answers.length);
    const last = rest.length === 0 || fitted.answers.length === 0 || packets.length + 1 === maxPackets;
    packets.push(last ? fitted : { ...fitted, flags: fitted.flags | FLAG_TC });
    if (last) break;
    next = { ...m, questions: [], answers: rest };
  }
  return packets;
}
