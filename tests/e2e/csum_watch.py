#!/usr/bin/env python3
"""csum_watch.py IFACE OUT - the TCP/UDP checksums of every IPv4 packet that
arrives at IFACE, as its receiver has them, until SIGTERM/SIGINT.

A packet counts as
  complete    its checksum verifies (pseudo-header + segment), or UDP 0;
  unfinished  the skb is CHECKSUM_PARTIAL (TP_STATUS_CSUMNOTREADY in the
              packet socket's auxdata) and the field holds exactly the
              pseudo-header sum of its header: what the device or the
              kernel finishes, and what a local receiver trusts;
  bad         anything else (printed, up to 5).
OUT gets one line "complete=N unfinished=N bad=N dropped=N" and the bad
ones. Frames the socket could not keep up with are "dropped" (counted by
the kernel), not judged. Used by the end-to-end tests.
"""
import array
import signal
import socket
import struct
import sys

SOL_PACKET, PACKET_AUXDATA, PACKET_STATISTICS = 263, 8, 6
TP_STATUS_CSUMNOTREADY = 0x8
PACKET_OUTGOING = 4


def fold(total):
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return total


def word_sum(data):
    """One's complement sum of big-endian 16-bit words, unfolded."""
    if len(data) % 2:
        data += b"\0"
    words = array.array("H", data)
    if sys.byteorder == "little":
        words.byteswap()
    return sum(words)


def main():
    ifname, out = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((ifname, 0))
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    counts = {"complete": 0, "unfinished": 0, "bad": 0}
    bad = []
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sock.settimeout(0.2)
    with open(out + ".ready", "w"):
        pass
    while not stop:
        try:
            data, anc, _flags, addr = sock.recvmsg(65536, 1024)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if addr[2] == PACKET_OUTGOING or len(data) < 34:
            continue
        status = 0
        for level, kind, val in anc:
            if level == SOL_PACKET and kind == PACKET_AUXDATA:
                status = struct.unpack_from("I", val)[0]
        ip = data[14:]
        ihl = (ip[0] & 15) * 4
        proto = ip[9]
        frag = struct.unpack_from("!H", ip, 6)[0]
        if proto not in (6, 17) or frag & 0x3fff:
            continue
        tot = struct.unpack_from("!H", ip, 2)[0]
        l4 = ip[ihl:tot]
        if proto == 17:
            l4 = l4[:struct.unpack_from("!H", l4, 4)[0]]
        off = 16 if proto == 6 else 6
        if len(l4) < off + 2:
            continue
        field = struct.unpack_from("!H", l4, off)[0]
        pseudo = word_sum(ip[12:20]) + proto + len(l4)
        if status & TP_STATUS_CSUMNOTREADY:
            ok, kind = field == fold(pseudo), "unfinished"
        else:
            ok = (proto == 17 and field == 0) or fold(pseudo + word_sum(l4)) == 0xffff
            kind = "complete"
        if ok:
            counts[kind] += 1
            continue
        counts["bad"] += 1
        if len(bad) < 5:
            sport, dport = struct.unpack_from("!HH", l4, 0)
            bad.append("%s %s:%d > %s:%d proto %d len %d field %#06x status %#x" % (
                kind, socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]), dport,
                proto, len(l4), field, status))
    st = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
    dropped = struct.unpack("II", st)[1]
    with open(out, "w") as f:
        f.write("complete=%d unfinished=%d bad=%d dropped=%d\n" % (
            counts["complete"], counts["unfinished"], counts["bad"], dropped))
        for b in bad:
            f.write("bad: %s\n" % b)


if __name__ == "__main__":
    main()
