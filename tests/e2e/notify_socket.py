#!/usr/bin/env python3
"""A stand-in for systemd's notification socket, for test_install.sh.

  notify_socket.py PATH NETNS IFACE

Binds a unix datagram socket at PATH (what NOTIFY_SOCKET names) and prints
every message it gets, one line per message, newlines as ';'. On a message
with READY=1 it also looks, at that moment, whether IFACE in network
namespace NETNS has an XDP program ("xdp=yes"/"xdp=no"): READY=1 must come
only once the daemon is attached.
"""
import os
import socket
import subprocess
import sys

path, netns, iface = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("listening", flush=True)
while True:
    msg = s.recv(4096).decode(errors="replace")
    line = msg.strip().replace("\n", ";")
    if "READY=1" in msg.split("\n"):
        out = subprocess.run(["ip", "-n", netns, "-d", "link", "show", "dev", iface],
                             capture_output=True, text=True).stdout
        line += " xdp=" + ("yes" if "prog/xdp" in out else "no")
    print(line, flush=True)
