#!/usr/bin/env python3
"""tap_vm.py TAP VM_MAC VM_IP ROUTER_MAC SERVER - a "VM" behind a tap with
offloads, for the end-to-end tests.

Attaches to the existing tap device TAP with a virtio-net header
(IFF_VNET_HDR), as QEMU/vhost do, and, as VM_IP/VM_MAC behind the router
(ROUTER_MAC), sends what a guest with tx checksum offload sends: TCP and
UDP whose checksum is unfinished (the pseudo-header sum in the field,
VIRTIO_NET_HDR_F_NEEDS_CSUM with csum_start/csum_offset), so that the
kernel makes CHECKSUM_PARTIAL skbs of them. Checks what comes back, with
its checksum verified as the guest's stack would:
  udp N   UDP datagrams of N payload bytes to SERVER:7 (an echo server),
          the echo must come back intact;
  syn     a TCP SYN to SERVER:80, a SYN-ACK must come back (then RST).
Prints one "ok ..." or "FAIL ..." line per check; exits 1 if any failed.
"""
import fcntl
import os
import random
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
TUNSETVNETHDRSZ = 0x400454D8
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000
VNET_HDR_LEN = 10	# struct virtio_net_hdr
F_NEEDS_CSUM = 1


def csum_sum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return total


def ip_header(src, dst, proto, payload_len, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0x4000, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", 0xffff & ~csum_sum(hdr)) + hdr[12:]


def pseudo(src, dst, proto, length):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


class Vm:
    def __init__(self, tap, mac, ip, router_mac, server):
        # non-blocking, as QEMU opens it: then tun runs native XDP on the
        # guest's buffer (tun_build_skb) before any skb exists
        self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        ifr = struct.pack("16sH", tap.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
        fcntl.ioctl(self.fd, TUNSETIFF, ifr)
        fcntl.ioctl(self.fd, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR_LEN))
        self.mac = bytes.fromhex(mac.replace(":", ""))
        self.router = bytes.fromhex(router_mac.replace(":", ""))
        self.ip, self.server = ip, server
        self.failed = 0

    def send_unfinished(self, proto, l4):
        """l4 with a zero checksum field; sent unfinished (NEEDS_CSUM)."""
        off = 16 if proto == 6 else 6
        field = csum_sum(pseudo(self.ip, self.server, proto, len(l4)))	# not complemented
        l4 = l4[:off] + struct.pack("!H", field) + l4[off + 2:]
        ip = ip_header(self.ip, self.server, proto, len(l4), random.randrange(65536))
        frame = self.router + self.mac + b"\x08\x00" + ip + l4
        vnet = struct.pack("<BBHHHH", F_NEEDS_CSUM, 0, 0, 0, 14 + 20, off)
        os.write(self.fd, vnet + frame)

    def receive(self, proto, sport, dport, timeout=3.0):
        """The next IPv4 frame of proto from the server's sport to our dport:
        (ip header, l4) with the checksums verified, or None."""
        end = time.time() + timeout
        while time.time() < end:
            r, _, _ = select.select([self.fd], [], [], max(0, end - time.time()))
            if not r:
                break
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            flags = buf[0]
            frame = buf[VNET_HDR_LEN:]
            if len(frame) < 34 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            ihl = (ip[0] & 15) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            if ip[9] != proto:
                continue
            l4 = ip[ihl:tot]
            if struct.unpack("!HH", l4[:4]) != (sport, dport):
                continue
            if csum_sum(ip[:ihl]) != 0xffff:
                return None, "IP header checksum wrong"
            if flags & F_NEEDS_CSUM:
                return None, "handed to the guest unfinished (NEEDS_CSUM): not what was asked"
            if csum_sum(pseudo(socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), proto,
                               len(l4)) + l4) != 0xffff:
                return None, "%s checksum wrong (field %#06x)" % (
                    "TCP" if proto == 6 else "UDP", struct.unpack("!H", l4[16 if proto == 6 else 6:][:2])[0])
            return (ip[:ihl], l4), None
        return None, "nothing came back"

    def check(self, ok, what, why=""):
        print("%s %s%s" % ("ok" if ok else "FAIL", what, "" if ok else ": " + why))
        self.failed += not ok

    def udp(self, n):
        sport = random.randrange(20000, 30000)
        payload = bytes((i * 7 + n) & 0xff for i in range(n))
        l4 = struct.pack("!HHHH", sport, 7, 8 + n, 0) + payload
        self.send_unfinished(17, l4)
        got, why = self.receive(17, 7, sport)
        self.check(got is not None and got[1][8:] == payload,
                   "UDP %d bytes, unfinished, echoed intact with a complete checksum" % n,
                   why or "payload differs")

    def syn(self):
        sport = random.randrange(30000, 40000)
        seq = random.randrange(1 << 32)
        l4 = struct.pack("!HHIIBBHHH", sport, 80, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
        self.send_unfinished(6, l4)
        got, why = self.receive(6, 80, sport)
        ok = got is not None and got[1][13] & 0x12 == 0x12 and \
            struct.unpack("!I", got[1][8:12])[0] == (seq + 1) & 0xffffffff
        self.check(ok, "TCP SYN, unfinished, answered by a SYN-ACK with a complete checksum",
                   why or "not a SYN-ACK to our SYN")
        if got:
            rst = struct.pack("!HHIIBBHHH", sport, 80, (seq + 1) & 0xffffffff, 0, 5 << 4, 0x04, 0, 0, 0)
            self.send_unfinished(6, rst)


def main():
    if len(sys.argv) < 7:
        print(__doc__)
        return 2
    vm = Vm(*sys.argv[1:6])
    for cmd in sys.argv[6:]:
        if cmd == "syn":
            vm.syn()
        elif cmd.startswith("udp"):
            vm.udp(int(cmd[3:]))
    return 1 if vm.failed else 0


if __name__ == "__main__":
    sys.exit(main())
