/**
 * How many known answers (RFC 6762 §7.1) a query carries: as many as fit in one packet. A fixed count
 * (it was 40) left hubs out on a LAN of more than 40 and every one of them answered every browse query;
 * short instance names fit far more. §7.2's multi-packet lists (TC bit) are not sent: a responder left
 * out just answers, which costs traffic, never correctness.
 */
import { encodeMessage, type Message } from './wire.js';

/** 1500-byte Ethernet MTU − 20 (IPv4 header) − 8 (UDP header): one unfragmented datagram (§17). */
export const MAX_QUERY_BYTES = 1472;

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
