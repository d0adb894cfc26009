#!/usr/bin/python3
"""Follow one DNS-SD instance's TXT record through avahi-daemon's D-Bus RecordBrowser.

  DBUS_SYSTEM_BUS_ADDRESS=unix:path=… /usr/bin/python3 avahi_watch_txt.py "Name._peerhub._tcp.local" [--seconds 600]
Prints `ready` once browsing, then one line per TXT record the daemon's cache gains:
  `txt k=v k=v …` (and `gone` when it loses one). `avahi-browse -r` resolves a service once and
never reports a changed TXT, so the benchmark follows TXT updates with this. Exits after --seconds.
"""
import argparse
import re
import sys

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

IF_UNSPEC = -1
PROTO_INET = 0
CLASS_IN = 1
TYPE_TXT = 16


def unescape(name: str) -> str:
    """avahi reports names escaped (`Bench\\032Avahi`): decode `\\DDD` and `\\x`."""
    name = re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), name)
    return re.sub(r"\\(.)", lambda m: m.group(1), name)


def parse_txt(rdata: bytes) -> list[str]:
    out, i = [], 0
    while i < len(rdata):
        n = rdata[i]
        out.append(rdata[i + 1 : i + 1 + n].decode("utf-8", "replace"))
        i += 1 + n
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("name")
    p.add_argument("--seconds", type=float, default=600.0)
    a = p.parse_args()
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    loop = GLib.MainLoop()

    def item(kind: str):
        def handler(interface, protocol, name, clazz, type_, rdata, flags, path=None):
            if unescape(str(name)).lower() != a.name.lower() or int(type_) != TYPE_TXT:
                return
            if kind == "new":
                print("txt " + " ".join(parse_txt(bytes(rdata))), flush=True)
            else:
                print("gone", flush=True)

        return handler

    # Subscribe before creating the browser: avahi 0.8 emits the first items right away.
    for sig, kind in (("ItemNew", "new"), ("ItemRemove", "remove")):
        bus.add_signal_receiver(item(kind), signal_name=sig, dbus_interface="org.freedesktop.Avahi.RecordBrowser", path_keyword="path")
    server = dbus.Interface(bus.get_object("org.freedesktop.Avahi", "/"), "org.freedesktop.Avahi.Server")
    server.RecordBrowserNew(IF_UNSPEC, PROTO_INET, a.name, dbus.UInt16(CLASS_IN), dbus.UInt16(TYPE_TXT), dbus.UInt32(0))
    print("ready", flush=True)
    GLib.timeout_add(int(min(a.seconds, 3600) * 1000), loop.quit)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
