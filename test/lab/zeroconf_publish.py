#!/usr/bin/python3
"""Announce one DNS-SD service with python3-zeroconf (an impostor, a foreign publisher, …).

  /usr/bin/python3 zeroconf_publish.py --interface 10.77.5.3 --name Mallory --port 7443 \
      --host mallory-x [--type _peerhub._tcp.local.] [k=v ...]
Registers NAME.TYPE with SRV → HOST.local:PORT, A → the interface address and the given TXT items,
prints `registered` once probing and announcing are done, then waits for `quit` or EOF on stdin
(at most --max-seconds) and unregisters (goodbye). Every wait is bounded.
"""
import argparse
import socket
import sys
import threading

from zeroconf import IPVersion, NonUniqueNameException, ServiceInfo, Zeroconf


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--interface", required=True, help="IPv4 address of the interface to use")
    p.add_argument("--name", required=True, help="instance name")
    p.add_argument("--type", default="_peerhub._tcp.local.")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", required=True, help="host label (without .local)")
    p.add_argument("--max-seconds", type=float, default=600.0)
    p.add_argument("txt", nargs="*", help="k=v items")
    a = p.parse_args()
    props: dict[str, str] = {}
    for item in a.txt:
        k, _, v = item.partition("=")
        props[k] = v
    info = ServiceInfo(
        a.type,
        f"{a.name}.{a.type}",
        addresses=[socket.inet_aton(a.interface)],
        port=a.port,
        properties=props,
        server=f"{a.host}.local.",
    )
    zc = Zeroconf(interfaces=[a.interface], ip_version=IPVersion.V4Only)
    try:
        try:
            zc.register_service(info, allow_name_change=False)
        except NonUniqueNameException:
            print("conflict", flush=True)
            return 1
        print("registered", flush=True)
        done = threading.Event()

        def read_stdin() -> None:
            for line in sys.stdin:
                if line.strip() == "quit":
                    break
            done.set()

        threading.Thread(target=read_stdin, daemon=True).start()
        done.wait(a.max_seconds)
        zc.unregister_service(info)
    finally:
        zc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
