#!/usr/bin/env python3
"""Small UDP test double for the e2e tests.

  udp_tool.py echo ADDR PORT            echo every datagram back; log "peer_ip peer_port len"
  udp_tool.py send ADDR PORT SIZE       send SIZE random bytes, expect the same back (exit 0),
                                        print "ok <sha256>" or the error
  udp_tool.py refused ADDR PORT         send to a closed port: exit 0 if the ICMP port
                                        unreachable comes back as ECONNREFUSED
"""
import hashlib
import os
import socket
import sys


def echo(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(65535)
        print(peer[0], peer[1], len(data), flush=True)
        s.sendto(data, peer)


def send(addr, port, size):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    data = os.urandom(size)
    for _ in range(3):
        s.sendto(data, (addr, port))
        try:
            back, _ = s.recvfrom(65535)
        except socket.timeout:
            continue
        if back == data:
            print("ok", hashlib.sha256(back).hexdigest())
            return 0
        print("mismatch: sent %d bytes, got %d" % (len(data), len(back)))
        return 1
    print("no reply")
    return 1


def refused(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((addr, port))
    for _ in range(3):
        s.send(b"hello?")
        try:
            s.recv(100)
            print("unexpected reply")
            return 1
        except ConnectionRefusedError:
            print("refused")
            return 0
        except socket.timeout:
            continue
    print("no ICMP port unreachable arrived")
    return 1


def main():
    cmd, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "echo":
        echo(addr, port)
    elif cmd == "send":
        return send(addr, port, int(sys.argv[4]))
    elif cmd == "refused":
        return refused(addr, port)
    return 2


if __name__ == "__main__":
    sys.exit(main())
