#!/usr/bin/python3
"""One ICMP echo (like `ping -c1 -W<timeout>`), for machines without iputils-ping. Needs root.

  /usr/bin/python3 ping.py 10.77.5.2 [--timeout 2]
Exit 0 when the echo reply came back in time, 1 otherwise; prints one line.
"""
import argparse
import os
import select
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("address")
    p.add_argument("--timeout", type=float, default=2.0)
    a = p.parse_args()
    ident = os.getpid() & 0xFFFF
    payload = b"peerhub-lab"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        start = time.monotonic()
        s.sendto(packet, (a.address, 0))
        deadline = start + min(a.timeout, 30.0)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                print(f"no reply from {a.address}")
                return 1
            r, _, _ = select.select([s], [], [], left)
            if not r:
                continue
            data, addr = s.recvfrom(2048)
            ihl = (data[0] & 0x0F) * 4
            typ, _code, _ck, rid, _seq = struct.unpack("!BBHHH", data[ihl : ihl + 8])
            if typ == 0 and rid == ident and addr[0] == a.address:
                print(f"reply from {a.address} in {(time.monotonic() - start) * 1000:.1f} ms")
                return 0


if __name__ == "__main__":
    sys.exit(main())
