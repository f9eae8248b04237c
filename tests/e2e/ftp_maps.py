#!/usr/bin/env python3
"""Read `bpftool -j map dump` of nat_alg or nat_expect, or the LIVE entries of
nat_ct in the same shape (lib.sh ct_dump_live), on stdin, for test_ftp.sh.

  ftp_maps.py alg               one line per nat_alg entry:
      client cport server sport state user_packets opaque_since delta0 delta1
  ftp_maps.py expect            one line per nat_expect entry:
      remote outside_addr outside_port inside_addr inside_port
  ftp_maps.py expect_ctl        the same, with the client port of the
      control connection that opened it as a sixth column
  ftp_maps.py ct CLIENT CPORT PORT   "packets flags entries": packets summed
      and flags and-ed over the nat_ct entries of the TCP flow CLIENT:CPORT -> (server) PORT whose
      reply is not translated back to another client (a forward)

Layouts are struct nat_ct_key, nat_alg_value and nat_ct_value of
include/xdpnat.h (host byte order for counters, network for addresses).
"""
import ipaddress
import json
import struct
import sys


def raw(v):
    return bytes(int(b, 16) for b in v)


def entries():
    data = json.load(sys.stdin)
    for e in data:
        if "key" in e and "value" in e:
            yield raw(e["key"]), raw(e["value"])


def ct_key(k):
    saddr, daddr, sport, dport, proto = struct.unpack_from("!4s4sHHB", k)
    return str(ipaddress.IPv4Address(saddr)), str(ipaddress.IPv4Address(daddr)), sport, dport, proto


def main():
    mode = sys.argv[1]
    if mode == "alg":
        for k, v in entries():
            s, d, sp, dp, _ = ct_key(k)
            d0, d1, upk, since, state = struct.unpack_from("<iiQQB", v)
            print(s, sp, d, dp, state, upk, since, d0, d1)
    elif mode in ("expect", "expect_ctl"):
        for k, v in entries():
            r, w, wport = struct.unpack_from("!4s4sH", k)
            to, tport = struct.unpack_from("!4sH", v)
            line = [ipaddress.IPv4Address(r), ipaddress.IPv4Address(w), wport,
                    ipaddress.IPv4Address(to), tport]
            if mode == "expect_ctl":
                line.append(ct_key(v[16:])[2])	# nat_expect_value.ctl.sport
            print(*line)
    elif mode == "ct":
        client, cport, port = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        packets, flags, n = 0, 0xff, 0
        for k, v in entries():
            s, d, sp, dp, proto = ct_key(k)
            orig = s == client and sp == cport and dp == port
            reply = d == client and dp == cport and sp == port
            if proto != 6 or not (orig or reply):
                continue
            packets += struct.unpack_from("<I", v, 16)[0]	# nat_ct_value.packets
            flags &= v[15]					# nat_ct_value.flags
            n += 1
        print(packets, flags if n else 0, n)


if __name__ == "__main__":
    main()
