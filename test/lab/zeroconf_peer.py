#!/usr/bin/python3
"""One python3-zeroconf "hub" for the benchmarks: publish one service and/or browse a type.

  /usr/bin/python3 zeroconf_peer.py --interface 10.77.5.3 [--browse] [--type _peerhub._tcp.local.]
      [--name NAME --host LABEL --port 7443 [k=v ...]] [--max-seconds 3600]

Prints one JSON object per line on stdout (flushed), the benchmark stamps them on arrival:
  {"ev": "ready"}                       Zeroconf up (and the browser started with --browse)
  {"ev": "registered"} / {"ev": "conflict"}   register_service returned (probes + announcements done)
  {"ev": "add"|"update", "name": INSTANCE, "txt": {...}, "resolved": bool}   browser events; a row is
      resolved once SRV, TXT and an address are in the cache (asked for, bounded, if not)
  {"ev": "remove", "name": INSTANCE}
  {"ev": "updated"} / {"ev": "unregistered"} / {"ev": "closed"} / {"ev": "error", "error": TEXT}
Commands on stdin, one a line:
  txt k=v ...   update_service with this TXT (prints `updated` once update_service returned)
  unregister    unregister_service (goodbye packets), prints `unregistered`
  close         Zeroconf.close(), prints `closed`
  quit          unregister, close and exit (also on EOF or after --max-seconds)
Every wait is bounded.
"""
import argparse
import json
import socket
import sys
import threading

from zeroconf import (
    IPVersion,
    NonUniqueNameException,
    ServiceBrowser,
    ServiceInfo,
    ServiceListener,
    Zeroconf,
)

_lock = threading.Lock()


def emit(obj: dict) -> None:
    with _lock:
        sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def decode(b):
    return None if b is None else b.decode("utf-8", "replace")


def instance_of(name: str, type_: str) -> str:
    return name[: -len(type_) - 1] if name.endswith("." + type_) else name


class Listener(ServiceListener):
    def __init__(self, zc_type: str) -> None:
        self.type = zc_type

    def _row(self, zc: Zeroconf, type_: str, name: str, ev: str) -> None:
        info = ServiceInfo(type_, name)
        resolved = info.load_from_cache(zc)
        if not resolved and ev == "add":
            # Not all records came in the packet that named it: ask (bounded).
            resolved = info.request(zc, 3000)
        txt = {decode(k): decode(v) for k, v in (info.properties or {}).items()}
        emit({"ev": ev, "name": instance_of(name, type_), "txt": txt, "resolved": bool(resolved)})

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._row(zc, type_, name, "add")

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._row(zc, type_, name, "update")

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        emit({"ev": "remove", "name": instance_of(name, type_)})


def props_of(items):
    props: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        if k:
            props[k] = v
    return props


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--interface", required=True, help="IPv4 address of the interface to use")
    p.add_argument("--type", default="_peerhub._tcp.local.")
    p.add_argument("--browse", action="store_true")
    p.add_argument("--name", help="instance name to publish")
    p.add_argument("--host", help="host label (without .local)")
    p.add_argument("--port", type=int, default=7443)
    p.add_argument("--max-seconds", type=float, default=3600.0)
    p.add_argument("txt", nargs="*", help="k=v items")
    a = p.parse_args()

    zc = Zeroconf(interfaces=[a.interface], ip_version=IPVersion.V4Only)
    browser = ServiceBrowser(zc, a.type, Listener(a.type)) if a.browse else None
    emit({"ev": "ready"})
    info = None
    registered = False
    closed = False
    try:
        if a.name:
            info = ServiceInfo(
                a.type,
                f"{a.name}.{a.type}",
                addresses=[socket.inet_aton(a.interface)],
                port=a.port,
                properties=props_of(a.txt),
                server=f"{(a.host or a.name.replace(' ', '-'))}.local.",
            )
            try:
                zc.register_service(info, allow_name_change=False)
                registered = True
                emit({"ev": "registered"})
            except NonUniqueNameException:
                emit({"ev": "conflict"})
                return 1

        done = threading.Event()

        def commands() -> None:
            nonlocal info, registered, closed
            for line in sys.stdin:
                words = line.split()
                if not words:
                    continue
                try:
                    if words[0] == "quit":
                        break
                    if words[0] == "txt" and info is not None and registered:
                        info = ServiceInfo(
                            info.type,
                            info.name,
                            addresses=info.addresses,
                            port=info.port,
                            properties=props_of(words[1:]),
                            server=info.server,
                        )
                        zc.update_service(info)
                        emit({"ev": "updated"})
                    elif words[0] == "unregister" and info is not None and registered:
                        zc.unregister_service(info)
                        registered = False
                        emit({"ev": "unregistered"})
                    elif words[0] == "close" and not closed:
                        if browser is not None:
                            browser.cancel()
                        zc.close()
                        closed = True
                        emit({"ev": "closed"})
                    else:
                        emit({"ev": "error", "error": f"cannot {words[0]} now"})
                except Exception as e:  # report and go on: the benchmark decides
                    emit({"ev": "error", "error": repr(e)})
            done.set()

        threading.Thread(target=commands, daemon=True).start()
        done.wait(a.max_seconds)
        if not closed and info is not None and registered:
            zc.unregister_service(info)
    finally:
        if not closed:
            if browser is not None:
                browser.cancel()
            zc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
