#!/usr/bin/python3
"""Publish one DNS-SD service through avahi-daemon's D-Bus API and update its TXT in place.

  DBUS_SYSTEM_BUS_ADDRESS=unix:path=… /usr/bin/python3 avahi_publish.py NAME TYPE PORT [k=v …]
Prints `established` once the entry group is established (probing done). Then reads stdin lines:
  `txt k=v …`  → EntryGroup.UpdateServiceTxt, prints `updated`
  `quit` / EOF → frees the group (goodbye) and exits.
`avahi-publish` cannot change a TXT record without withdrawing the service; this can (the benchmark's
fair equivalent of a presence change). Every wait is bounded.
"""
import sys
import time

import dbus

IF_UNSPEC = -1
PROTO_INET = 0


def txt_array(items: list[str]) -> list:
    return [dbus.ByteArray(i.encode("utf-8")) for i in items]


def main() -> int:
    if len(sys.argv) < 4:
        print("usage: avahi_publish.py NAME TYPE PORT [k=v ...]", file=sys.stderr)
        return 2
    name, type_, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    txt = sys.argv[4:]
    bus = dbus.SystemBus()
    server = dbus.Interface(bus.get_object("org.freedesktop.Avahi", "/"), "org.freedesktop.Avahi.Server")
    path = server.EntryGroupNew()
    group = dbus.Interface(bus.get_object("org.freedesktop.Avahi", path), "org.freedesktop.Avahi.EntryGroup")
    group.AddService(IF_UNSPEC, PROTO_INET, dbus.UInt32(0), name, type_, "", "", dbus.UInt16(port), txt_array(txt))
    group.Commit()
    deadline = time.monotonic() + 15
    while True:
        state = int(group.GetState())
        if state == 2:
            break
        if state in (3, 4) or time.monotonic() > deadline:
            print(f"failed state={state}", flush=True)
            return 1
        time.sleep(0.005)
    print("established", flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line == "quit":
            break
        if line.startswith("txt"):
            group.UpdateServiceTxt(IF_UNSPEC, PROTO_INET, dbus.UInt32(0), name, type_, "", txt_array(line.split()[1:]))
            print("updated", flush=True)
    group.Free()
    return 0


if __name__ == "__main__":
    sys.exit(main())
