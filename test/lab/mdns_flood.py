#!/usr/bin/python3
"""Send malformed mDNS packets to 224.0.0.251:5353 from a lab namespace (bounded in count and time).

  /usr/bin/python3 mdns_flood.py --interface 10.77.5.3 [--count 20000] [--seconds 20] [--seed 1] [--rate 4000]
Sent from port 5353 (like a real responder), TTL 255, on the given interface only. The mix:
random bytes; DNS headers whose counts lie; names with compression-pointer loops and label lengths
past the end; answers for _peerhub._tcp.local whose PTR/SRV/TXT/A rdata is truncated or overlong.
Prints one JSON line: {"sent": N, "seconds": S}.
"""
import argparse
import json
import random
import socket
import struct
import sys
import time

GROUP = ("224.0.0.251", 5353)


def name(labels: list[bytes]) -> bytes:
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\0"


SERVICE = name([b"_peerhub", b"_tcp", b"local"])


def header(rng: random.Random, qd: int, an: int, ns: int = 0, ar: int = 0, flags: int = 0x8400) -> bytes:
    return struct.pack("!HHHHHH", rng.randrange(65536), flags, qd, an, ns, ar)


def rr(rname: bytes, rtype: int, rdata: bytes, rdlength: int | None = None, ttl: int = 120) -> bytes:
    return rname + struct.pack("!HHIH", rtype, 0x8001, ttl, len(rdata) if rdlength is None else rdlength) + rdata


def packet(rng: random.Random) -> bytes:
    k = rng.randrange(9)
    if k == 0:  # pure noise
        return rng.randbytes(rng.randrange(0, 1400))
    if k == 1:  # counts that lie
        return header(rng, rng.randrange(65536), rng.randrange(65536), rng.randrange(65536), rng.randrange(65536)) + rng.randbytes(rng.randrange(0, 64))
    if k == 2:  # compression pointer to itself
        return header(rng, 1, 0, flags=0) + b"\xc0\x0c" + struct.pack("!HH", 12, 1)
    if k == 3:  # pointer loop between two names
        return header(rng, 2, 0, flags=0) + b"\xc0\x12" + struct.pack("!HH", 12, 1) + b"\xc0\x0c" + struct.pack("!HH", 12, 1)
    if k == 4:  # label length past the end
        return header(rng, 1, 0, flags=0) + b"\x3f" + b"abc"
    if k == 5:  # PTR with rdlength longer than the packet
        inst = name([b"Evil" + rng.randbytes(4).hex().encode(), b"_peerhub", b"_tcp", b"local"])
        return header(rng, 0, 1) + rr(SERVICE, 12, inst, rdlength=4000)
    if k == 6:  # SRV with short rdata
        inst = name([b"Evil", b"_peerhub", b"_tcp", b"local"])
        return header(rng, 0, 1) + rr(inst, 33, b"\x00\x01")
    if k == 7:  # TXT whose string lengths overrun
        inst = name([b"Evil", b"_peerhub", b"_tcp", b"local"])
        return header(rng, 0, 1) + rr(inst, 16, b"\xff" + b"id=x")
    # A record with 3 bytes, then garbage
    return header(rng, 0, 2) + rr(name([b"evil", b"local"]), 1, b"\x0a\x4d\x00") + rng.randbytes(rng.randrange(0, 32))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--interface", required=True)
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=4000.0, help="packets per second at most")
    a = p.parse_args()
    count = max(0, min(a.count, 200000))
    rng = random.Random(a.seed)
    a.rate = max(1.0, a.rate)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("0.0.0.0", 5353))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.interface))
    start = time.monotonic()
    deadline = start + min(a.seconds, 120.0)
    sent = 0
    while sent < count and time.monotonic() < deadline:
        try:
            s.sendto(packet(rng), GROUP)
            sent += 1
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            time.sleep(0.001)  # ENOBUFS: back off a little, still bounded by the deadline
        if sent % 100 == 0:  # pace: packets should reach the hubs' parsers, not the kernel's drop counters
            ahead = start + sent / a.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - start, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
