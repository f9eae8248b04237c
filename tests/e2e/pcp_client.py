#!/usr/bin/env python3
"""A small PCP (RFC 6887) client for the e2e tests; Debian has none.

  pcp_client.py map SERVER PROTO INT_PORT [options]   MAP request, print the answer
  pcp_client.py peer SERVER PROTO INT_PORT PEER PEER_PORT  PEER request, print the answer
  pcp_client.py announce SERVER                        ANNOUNCE request, print the answer
  pcp_client.py raw SERVER HEX                         send these bytes, print the answer
  pcp_client.py listen SECONDS                         print what arrives on 224.0.0.1:5350

options: --ext-port N --lifetime S --nonce HEX24 --client-addr A --third-party A
         --prefer-failure --timeout S
The answer is one JSON line: version, opcode, result, lifetime, epoch and, for
MAP and PEER, nonce, protocol, internal_port, ext_port, ext_addr (PEER: and
peer_port, peer_addr). No answer within the
timeout prints {"answer": null} and exits 1.
"""
import argparse
import ipaddress
import json
import os
import socket
import struct
import sys

PORT = 5351


def addr16(a):
    return b"\0" * 10 + b"\xff\xff" + socket.inet_aton(a)


def unaddr16(b):
    if b[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntoa(b[12:16])
    return str(ipaddress.IPv6Address(b))


def decode(data):
    out = {"len": len(data)}
    if len(data) < 24:
        out["short"] = True
        return out
    out.update(version=data[0], r=data[1] >> 7, opcode=data[1] & 0x7f, result=data[3],
               lifetime=struct.unpack("!I", data[4:8])[0],
               epoch=struct.unpack("!I", data[8:12])[0])
    if out["opcode"] in (1, 2) and len(data) >= 60:
        d = data[24:60]
        out.update(nonce=d[:12].hex(), protocol=d[12], internal_port=struct.unpack("!H", d[16:18])[0],
                   ext_port=struct.unpack("!H", d[18:20])[0], ext_addr=unaddr16(d[20:36]))
    if out["opcode"] == 2 and len(data) >= 80:
        out.update(peer_port=struct.unpack("!H", data[60:62])[0], peer_addr=unaddr16(data[64:80]))
    return out


def decode_natpmp(data):
    if len(data) >= 12 and data[0] == 0 and data[1] == 128:
        return {"natpmp": True, "result": struct.unpack("!H", data[2:4])[0],
                "epoch": struct.unpack("!I", data[4:8])[0], "addr": socket.inet_ntoa(data[8:12])}
    return None


def exchange(server, payload, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.connect((server, PORT))
    for _ in range(2):
        s.send(payload)
        try:
            return s.recv(2048), s.getsockname()[0]
        except (socket.timeout, ConnectionRefusedError):
            continue
    return None, s.getsockname()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd")
    ap.add_argument("args", nargs="*")
    ap.add_argument("--ext-port", type=int, default=0)
    ap.add_argument("--lifetime", type=int, default=600)
    ap.add_argument("--nonce", default=None)
    ap.add_argument("--client-addr", default=None)
    ap.add_argument("--third-party", default=None)
    ap.add_argument("--prefer-failure", action="store_true")
    ap.add_argument("--timeout", type=float, default=2)
    a = ap.parse_args()

    if a.cmd == "listen":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("224.0.0.1", 5350))
        mreq = socket.inet_aton("224.0.0.1") + socket.inet_aton("0.0.0.0")
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        s.settimeout(float(a.args[0]))
        print(json.dumps({"ready": True}), flush=True)
        try:
            while True:
                data, peer = s.recvfrom(2048)
                o = decode_natpmp(data) or decode(data)
                o["from"] = peer[0]
                print(json.dumps(o), flush=True)
        except socket.timeout:
            return 0

    server = a.args[0]
    # the client address is the one the kernel picks towards the server
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((server, PORT))
    client = a.client_addr or probe.getsockname()[0]
    probe.close()
    if a.cmd == "raw":
        payload = bytes.fromhex(a.args[1])
    elif a.cmd == "announce":
        payload = struct.pack("!BBHI", 2, 0, 0, 0) + addr16(client)
    elif a.cmd == "peer":
        proto = {"tcp": 6, "udp": 17}[a.args[1]]
        nonce = bytes.fromhex(a.nonce) if a.nonce else os.urandom(12)
        payload = struct.pack("!BBHI", 2, 2, 0, a.lifetime) + addr16(client)
        payload += nonce + struct.pack("!B3xHH", proto, int(a.args[2]), 0) + addr16("0.0.0.0")
        payload += struct.pack("!H2x", int(a.args[4])) + addr16(a.args[3])
    elif a.cmd == "map":
        proto = {"tcp": 6, "udp": 17}.get(a.args[1], None)
        proto = int(a.args[1]) if proto is None else proto
        nonce = bytes.fromhex(a.nonce) if a.nonce else os.urandom(12)
        payload = struct.pack("!BBHI", 2, 1, 0, a.lifetime) + addr16(client)
        payload += nonce + struct.pack("!B3xHH", proto, int(a.args[2]), a.ext_port) + addr16("0.0.0.0")
        if a.third_party:
            payload += struct.pack("!BBH", 1, 0, 16) + addr16(a.third_party)
        if a.prefer_failure:
            payload += struct.pack("!BBH", 2, 0, 0)
    else:
        ap.error("unknown command " + a.cmd)
    data, _ = exchange(server, payload, a.timeout)
    if data is None:
        print(json.dumps({"answer": None}))
        return 1
    print(json.dumps(decode(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
