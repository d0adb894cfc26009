/** Named timing and protocol constants (RFC 6762 section numbers in comments), all in ms unless noted. */
export const MDNS_PORT = 5353;
export const MDNS_GROUP = '224.0.0.251';

export const SERVICE_TYPE = '_peerhub._tcp.local';
export const SERVICES_ENUM = '_services._dns-sd._udp.local';

export const TTL_HOST_S = 120; // §10: host address records
// §10 recommends 75 min for the other records; we use 60 s so that a hub that vanished without a
// goodbye leaves People Near Me within a minute. Freshness then comes from the §5.2 cache-refresh
// queries at 80–95 % (one query per round for the whole LAN, see REFRESH_KNOWN_ANSWER_LEFT), never
// from unsolicited announcements, which §8.3 forbids without a change.
export const TTL_SERVICE_S = 60;
export const LEGACY_TTL_MAX_S = 10; // §6.7
export const GOODBYE_EXPIRY = 1000; // §10.1: TTL 0 → delete after one second
export const FLUSH_GRACE = 1000; // §10.2: cache-flush keeps records received in the last second

export const PROBE_INITIAL_DELAY_MAX = 250; // §8.1: random 0–250 ms before the first probe
export const PROBE_INTERVAL = 250; // §8.1
export const PROBE_COUNT = 3;
export const PROBE_DEFER = 1000; // §8.2: tie-break loser waits one second
export const PROBE_RATE_WINDOW = 10_000; // §8.1: 15 conflicts in 10 s → probe at most every 5 s
export const PROBE_RATE_CONFLICTS = 15;
export const PROBE_RATE_DELAY = 5000;

export const ANNOUNCE_COUNT = 3; // §8.3: at least two
export const ANNOUNCE_FIRST_INTERVAL = 1000; // then doubling

export const SHARED_DELAY_MIN = 20; // §6: shared answers wait 20–120 ms
export const SHARED_DELAY_MAX = 120;
export const MULTICAST_MIN_INTERVAL = 1000; // §6: a record is multicast at most once a second
export const PROBE_DEFENCE_INTERVAL = 250; // §6: …except in answer to a probe

export const QUERY_INITIAL_DELAY_MIN = 20; // §5.2
export const QUERY_INITIAL_DELAY_MAX = 120;
export const QUERY_FIRST_INTERVAL = 1000; // §5.2: 1 s, then doubling…
export const QUERY_MAX_INTERVAL = 60 * 60 * 1000; // …capped at 60 min
// Peers whose records expired unrefreshed restart the browse query (1–2 s, then doubling) at most this
// often. Only expiry does, not POOF (§10.5: others' queries went unanswered, so our link is up and
// asking again finds nothing new). On the 100-hub lab, a restart on every removal had each hub asking
// every 2–4 s — 25 browse queries a second on the LAN, each answered by the hubs it left out.
export const QUERY_RESTART_GAP = 60_000;

export const REQUERY_FRACTIONS = [0.8, 0.85, 0.9, 0.95] as const; // §5.2
export const REQUERY_JITTER = 0.02; // + 0–2 % of the TTL
// §7.3 duplicate question suppression: a re-query due within this fraction of the TTL (the 2 % jitter
// + 1 % for hosts that got the record a little earlier or later; the fractions are 5 % apart) is
// treated as sent when another host (or we ourselves) just asked the same question.
export const DUPLICATE_QUERY_WINDOW = 0.03;
// A refresh query lists as known answers only records with more than 80 % of their TTL left (§7.1 asks
// for at least half): every record older than that is answered again in the same round, so records
// learnt at different times fall into one refresh round per TTL instead of one round each.
export const REFRESH_KNOWN_ANSWER_LEFT = 0.8;

// §10.5 asks for "two or more" unanswered queries. Three, from distinct hosts and at least a second
// apart (Avahi also spaces them by a second, and waits for five): with two, a live hub whose two answers
// were lost (Wi-Fi loses multicast; the 50-hub lab lost two thirds of it once its neighbour tables
// overflowed) was dropped by every hub at once, and each drop restarted queries that cost more answers.
// The owner gets at least POOF_ANSWER_TIME to answer the last query counted. A crashed hub is still
// gone when its PTR's TTL (60 s) runs out.
export const POOF_QUERIES = 3;
export const POOF_SPACING = 1000;
export const POOF_TIMEOUT = 10_000;
export const POOF_ANSWER_TIME = 1000;

export const CACHE_MAX_ENTRIES = 2048; // bound memory under hostile traffic
// Our own multicast comes back to us (IP_MULTICAST_LOOP): a packet with the bytes of one of the last
// ECHO_KEEP we sent, from our address, within ECHO_WINDOW, is ours. The window was 2 s: a hub busy for
// longer (50 agents starting on 2 cores) read its own announcement as another host's and cached its own
// PTR, later removed it by POOF and restarted its queries as if a peer had vanished. (Matching each
// packet only once broke the flood test: a replay of our packets from our address must stay ours.)
export const ECHO_WINDOW = 60_000;
export const ECHO_KEEP = 64;
export const TXT_MAX_BYTES = 200; // DESIGN: TXT stays small
