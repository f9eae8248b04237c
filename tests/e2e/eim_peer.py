#!/usr/bin/env python3
"""eim_peer.py SPORT DEST:PORT [DEST:PORT ...] [--wait SECONDS]

From UDP source port SPORT, send one datagram to each destination (an echo
server answers), then, with --wait, keep the socket and print
"got IP PORT DATA" for every datagram that arrives within SECONDS (what
endpoint-independent filtering or a hairpin lets in). Prints "sent" once
the datagrams are out, so a test can start the second half."""
import socket, sys, time
args = sys.argv[1:]
wait = 0.0
if "--wait" in args:
    i = args.index("--wait")
    wait = float(args[i + 1])
    del args[i:i + 2]
sport = int(args[0])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", sport))
s.settimeout(2)
for d in args[1:]:
    host, port = d.rsplit(":", 1)
    s.sendto(b"eim", (host, int(port)))
    try:
        s.recvfrom(2048)
    except socket.timeout:
        print("no echo from", d, flush=True)
print("sent", flush=True)
end = time.time() + wait
while time.time() < end:
    s.settimeout(max(0.05, end - time.time()))
    try:
        data, peer = s.recvfrom(2048)
    except socket.timeout:
        break
    print("got", peer[0], peer[1], data.decode(errors="replace"), flush=True)
    s.sendto(b"back", peer)
