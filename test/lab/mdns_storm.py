#!/usr/bin/python3
"""A bounded mDNS flood or a handful of crafted announcements, from a lab namespace.

  /usr/bin/python3 mdns_storm.py flood --interface 10.77.5.3 --rate 2000 --seconds 10 [--seed 1]
      [--mix query=3,response=4,garbage=3] [--instances 5000] [--ids-file ids.txt] [--target-addr A]
  /usr/bin/python3 mdns_storm.py announce --interface A --name Eve --id ID [--count 20] [--interval-ms 100]
      [--host eve] [--addr A] [--ttl 255] [--sport 5353] [--dest 224.0.0.251]

flood: paced to --rate packets per second (≤ 20,000) for --seconds (≤ 120), at most --count packets
(≤ 2,400,000). The mix: valid queries (PTR for _peerhub._tcp.local, QU or QM, sometimes with known
answers; A/ANY questions for random names), valid responses announcing random _peerhub instances
(PTR + SRV + TXT + A, cache-flush set, random TTLs; --instances distinct names, more than the cache
holds; TXT ids taken from --ids-file, else garbage ids; A records point at --target-addr, else at the
sender) and garbage (mdns_flood.py's malformed packets). Packets are generated ahead in a pool and sent
round-robin, so generation never limits the rate.
announce: one valid announcement of instance --name (PTR, SRV, TXT v=1 id st=Online seq, A) sent
--count times, from --interface (which may be an off-link address added to eth0 for the test), with
IP TTL --ttl, from UDP port --sport, to --dest (multicast group or a unicast address) port 5353.
Both print one JSON line: {"sent": N, "byKind": {...}, "errors": N, "seconds": S, "rate": R}.
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mdns_flood  # noqa: E402  (its malformed packets are the garbage part of the mix)

GROUP = "224.0.0.251"
PORT = 5353
SERVICE = [b"_peerhub", b"_tcp", b"local"]
MAX_RATE = 20000.0
MAX_SECONDS = 120.0
MAX_COUNT = 2400000


def name(labels):
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\0"


def header(qid, flags, qd, an, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def rr(rname, rtype, rdata, ttl, flush=True):
    klass = 0x8001 if flush else 0x0001
    return rname + struct.pack("!HHIH", rtype, klass, ttl, len(rdata)) + rdata


def txt(strings):
    return b"".join(bytes([len(s)]) + s for s in strings)


def announcement(inst: bytes, host: bytes, peer_id: bytes, addr: str, seq: int, ttl_host=120, ttl_svc=4500):
    inst_name = name([inst] + SERVICE)
    host_name = name([host, b"local"])
    answers = [
        rr(name(SERVICE), 12, inst_name, ttl_svc, flush=False),
        rr(inst_name, 33, struct.pack("!HHH", 0, 0, 7443) + host_name, ttl_host),
        rr(inst_name, 16, txt([b"v=1", b"id=" + peer_id, b"st=Online", b"seq=%d" % seq]), ttl_svc),
        rr(host_name, 1, socket.inet_aton(addr), ttl_host),
    ]
    return header(0, 0x8400, 0, len(answers)) + b"".join(answers)


def query(rng: random.Random) -> bytes:
    k = rng.randrange(4)
    qu = 0x8000 if rng.random() < 0.3 else 0
    if k == 0:  # PTR for the service: the hub answers (rate-limited)
        return header(0, 0, 1, 0) + name(SERVICE) + struct.pack("!HH", 12, 1 | qu)
    if k == 1:  # PTR with a random known answer
        inst = name([b"Known-%d" % rng.randrange(100000)] + SERVICE)
        return (
            header(0, 0, 1, 1)
            + name(SERVICE)
            + struct.pack("!HH", 12, 1 | qu)
            + rr(name(SERVICE), 12, inst, 4500, flush=False)
        )
    if k == 2:  # A for a random host
        return header(0, 0, 1, 0) + name([b"h%x" % rng.randrange(1 << 32), b"local"]) + struct.pack("!HH", 1, 1 | qu)
    # ANY for a random instance of the service
    return header(0, 0, 1, 0) + name([b"I%x" % rng.randrange(1 << 32)] + SERVICE) + struct.pack("!HH", 255, 1 | qu)


def response(rng: random.Random, instances: int, ids: list, addr: str) -> bytes:
    i = rng.randrange(instances)
    peer_id = rng.choice(ids) if ids else b"x%08x" % rng.randrange(1 << 32)
    ttl_h = rng.choice([1, 5, 120, 3600])
    ttl_s = rng.choice([1, 5, 4500, 86400])
    return announcement(b"Flood-%d" % i, b"flood-%d" % i, peer_id, addr, rng.randrange(1, 1000), ttl_h, ttl_s)


def parse_mix(s: str):
    out = []
    for part in s.split(","):
        k, _, w = part.partition("=")
        if k not in ("query", "response", "garbage"):
            raise SystemExit(f"unknown kind {k!r} in --mix")
        out.append((k, max(0.0, float(w or "1"))))
    return out


def open_socket(interface: str, ttl: int, sport: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.bind((interface, sport))  # the source address: on-link, or an off-link one added for the test
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
    return s


def paced_send(s, packets, kinds, dest, rate, seconds, count):
    start = time.monotonic()
    deadline = start + min(seconds, MAX_SECONDS)
    sent = errors = 0
    by_kind = {}
    n = len(packets)
    while sent < count and time.monotonic() < deadline:
        i = sent % n
        try:
            s.sendto(packets[i], dest)
            sent += 1
            by_kind[kinds[i]] = by_kind.get(kinds[i], 0) + 1
        except OSError:  # ENOBUFS/EAGAIN: back off a little, still bounded by the deadline
            errors += 1
            time.sleep(0.0005)
        if sent % 50 == 0:
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    took = time.monotonic() - start
    return {"sent": sent, "byKind": by_kind, "errors": errors, "seconds": round(took, 3), "rate": round(sent / took if took > 0 else 0)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["flood", "announce"])
    p.add_argument("--interface", required=True)
    p.add_argument("--rate", type=float, default=2000.0)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--count", type=int, default=MAX_COUNT)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mix", default="query=3,response=4,garbage=3")
    p.add_argument("--instances", type=int, default=5000)
    p.add_argument("--pool", type=int, default=20000)
    p.add_argument("--ids-file")
    p.add_argument("--target-addr")
    p.add_argument("--name", default="Eve")
    p.add_argument("--id", default="x")
    p.add_argument("--host", default=None)
    p.add_argument("--addr", default=None)
    p.add_argument("--interval-ms", type=float, default=100.0)
    p.add_argument("--ttl", type=int, default=255)
    p.add_argument("--sport", type=int, default=PORT)
    p.add_argument("--dest", default=GROUP)
    a = p.parse_args()
    count = max(0, min(a.count, MAX_COUNT))
    rate = max(1.0, min(a.rate, MAX_RATE))
    s = open_socket(a.interface, max(1, min(a.ttl, 255)), a.sport)
    dest = (a.dest, PORT)

    if a.mode == "announce":
        pkt = announcement(
            a.name.encode(), (a.host or a.name.lower()).encode(), a.id.encode(), a.addr or a.interface, 1
        )
        n = min(count, 1000)
        res = paced_send(s, [pkt], ["announce"], dest, 1000.0 / max(1.0, a.interval_ms), min(a.seconds, 60), n)
        print(json.dumps(res))
        return 0

    rng = random.Random(a.seed)
    ids = []
    if a.ids_file:
        with open(a.ids_file, "rb") as f:
            ids = [l.strip() for l in f if l.strip()][:10000]
    addr = a.target_addr or a.interface
    mix = parse_mix(a.mix)
    total = sum(w for _, w in mix) or 1.0
    packets, kinds = [], []
    for _ in range(max(1, min(a.pool, 200000))):
        r = rng.random() * total
        for k, w in mix:
            r -= w
            if r <= 0:
                break
        if k == "query":
            packets.append(query(rng))
        elif k == "response":
            packets.append(response(rng, max(1, a.instances), ids, addr))
        else:
            packets.append(mdns_flood.packet(rng))
        kinds.append(k)
    res = paced_send(s, packets, kinds, dest, rate, a.seconds, count)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
