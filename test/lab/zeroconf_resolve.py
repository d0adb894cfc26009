#!/usr/bin/python3
"""Browse and resolve a DNS-SD service type with python3-zeroconf; print JSON on stdout.

Used by the lab harness (test/lab/harness.ts) inside a network namespace:
  /usr/bin/python3 zeroconf_resolve.py --interface 10.77.5.3 [--type _peerhub._tcp.local.]
      [--wait 6] [--min 0] [--name-contains TEXT]
Browses for at most --wait seconds (stops early once --min services are resolved),
resolves every instance seen and prints
  [{"name", "instance", "server", "port", "addresses", "txt"}].
"""
import argparse
import json
import sys
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf


class Collector(ServiceListener):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.add(name)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.add(name)

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.discard(name)


def decode(b: bytes | None) -> str | None:
    return None if b is None else b.decode("utf-8", "replace")


def resolve(zc: Zeroconf, type_: str, name: str) -> dict | None:
    info = zc.get_service_info(type_, name, timeout=3000)
    if info is None:
        return None
    txt = {}
    for k, v in (info.properties or {}).items():
        txt[decode(k)] = decode(v)
    return {
        "name": name,
        "instance": name[: -len(type_) - 1] if name.endswith("." + type_) else name,
        "server": info.server,
        "port": info.port,
        "addresses": info.parsed_addresses(),
        "txt": txt,
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--interface", required=True, help="IPv4 address of the interface to use")
    p.add_argument("--type", default="_peerhub._tcp.local.")
    p.add_argument("--wait", type=float, default=6.0, help="browse for at most this many seconds")
    p.add_argument("--min", type=int, default=0, help="stop early once this many are resolved")
    p.add_argument("--name-contains", default=None)
    a = p.parse_args()

    zc = Zeroconf(interfaces=[a.interface], ip_version=IPVersion.V4Only)
    out: dict[str, dict] = {}
    try:
        col = Collector()
        ServiceBrowser(zc, a.type, col)
        deadline = time.monotonic() + min(max(a.wait, 0.5), 60.0)
        while time.monotonic() < deadline:
            time.sleep(0.25)
            for name in sorted(col.names):
                if name in out:
                    continue
                if a.name_contains and a.name_contains not in name:
                    continue
                r = resolve(zc, a.type, name)
                if r is not None:
                    out[name] = r
            if a.min > 0 and len(out) >= a.min:
                break
    finally:
        zc.close()
    json.dump(sorted(out.values(), key=lambda r: r["name"]), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
