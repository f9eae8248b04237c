#!/usr/bin/env python3
"""nat_ct, the flow table of 64-byte slots, for the e2e tests.

nat_ct is a BPF_F_MMAPABLE array of struct nat_ct_slot (include/xdpnat.h):
slot 0 is the header (struct nat_ct_head), entries live in slots
1 .. nslots, placed by open addressing with linear probing
(include/nat_ct_slots.h); a slot's state is key.pad[0] (0 EMPTY, 1 LIVE,
2 BUSY, 3 DEAD). This reads the pinned map through mmap() (a dump with
bpftool of a table of a million slots would be hundreds of MB of JSON) and
prints what the tests used to read from `bpftool -j map dump` of the hash
map nat_ct was:

  ct_slots.py dump PIN      a JSON array, one element per LIVE entry, in
      the shape bpftool gave a hash map's entry: {"key": [hex bytes of
      struct nat_ct_key, pad zero], "value": [hex bytes of struct
      nat_ct_value], "formatted": {"key": {...}, "value": {...}}} (the
      bitfields dir/kind/state as numbers)
  ct_slots.py count PIN     the number of LIVE entries
  ct_slots.py head PIN      the header as JSON: entries magic nslots limit
      hkey (the five hash keys), and max_entries (slots in the array, header included)
  ct_slots.py insert PIN KEYHEX VALUEHEX   add an entry as the data path
      would (its home slot by ct_hash()/ct_home() with the table's keys,
      the first free slot of its probe run, then LIVE and counted in the
      header): KEYHEX the 16 bytes of struct nat_ct_key, VALUEHEX the 48 of
      struct nat_ct_value, as hex digits (spaces allowed). Fails if the key
      is there already. Not atomic against the data path's own inserts:
      for test flows nobody else writes.
  ct_slots.py old-header PIN   rewrite the header as a table of the
      previous slot hash had it (magic "xnct", a jhash seed, nslots,
      limit; entries stay in their slots): what a restart over the data
      path of an older build finds (the table is converted, not adopted)
"""
import ctypes
import ctypes.util
import json
import mmap
import os
import struct
import sys

SLOT = 64
MAGIC = 0x33636e78            # NAT_CT_MAGIC (include/xdpnat.h)
OLD_MAGIC = 0x74636e78        # "xnct": the jhash table's, before
EMPTY, LIVE, BUSY, DEAD = 0, 1, 2, 3
PROBES = 1024                  # NAT_CT_PROBES (include/nat_ct_slots.h)
BPF_OBJ_GET = 7
BPF_OBJ_GET_INFO_BY_FD = 15

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd, attr):
    nr = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine, 321)	# __NR_bpf
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    rc = _libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), buf, ctypes.c_uint(len(attr)))
    if rc < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return rc, buf


def open_pinned(path):
    """The fd of the map pinned at path, its max_entries and value_size."""
    p = ctypes.create_string_buffer(path.encode())
    attr = struct.pack("<QII", ctypes.addressof(p), 0, 0) + bytes(16)
    fd, _ = _bpf(BPF_OBJ_GET, attr)
    info = ctypes.create_string_buffer(128)
    attr = struct.pack("<IIQ", fd, len(info), ctypes.addressof(info)) + bytes(16)
    _bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    # struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags
    mtype, _, ksz, vsz, max_entries, flags = struct.unpack_from("<6I", info.raw)
    if mtype != 2 or ksz != 4 or vsz != SLOT:		# BPF_MAP_TYPE_ARRAY of slots
        raise SystemExit("%s: not a nat_ct slot table (type %d, key %d, value %d)"
                         % (path, mtype, ksz, vsz))
    return fd, max_entries


class Table:
    def __init__(self, path, write=False):
        self.fd, self.max_entries = open_pinned(path)
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if write else 0)
        self.m = mmap.mmap(self.fd, self.max_entries * SLOT, mmap.MAP_SHARED, prot)
        h = self.head()
        if h["magic"] != MAGIC or not 0 < h["nslots"] < self.max_entries:
            raise SystemExit("%s: nat_ct has no valid header: %s" % (path, h))
        self.nslots, self.hkey = h["nslots"], h["hkey"]

    def head(self):
        entries, magic, nslots, limit, _ = struct.unpack_from("<QIIII", self.m, 0)
        hkey = list(struct.unpack_from("<5Q", self.m, 24))
        return {"entries": entries, "magic": magic, "nslots": nslots, "limit": limit,
                "hkey": hkey, "max_entries": self.max_entries}

    def slot(self, i):
        return bytes(self.m[i * SLOT:(i + 1) * SLOT])

    def live(self):
        """(key bytes with pad zero, value bytes) of every LIVE slot."""
        for i in range(1, self.nslots + 1):
            s = self.slot(i)
            if s[13] == LIVE:
                yield s[:13] + bytes(3), s[16:]


def ct_hash(saddr, daddr, ports, proto, hkey):
    """include/nat_ct_slots.h ct_hash(): the words as the C code loads them."""
    m = 0xffffffffffffffff
    h = (hkey[0] + hkey[1] * saddr + hkey[2] * daddr + hkey[3] * ports + hkey[4] * proto) & m
    h ^= h >> 32
    h = (h * 0x9e3779b97f4a7c15) & m
    return h >> 32


def ct_home(h, nslots):
    return 1 + ((h * nslots) >> 32)


def home_of(key, hkey, nslots):
    """key: the 16 (or 13) bytes of a struct nat_ct_key, in host (little-endian) order."""
    saddr, daddr, ports = struct.unpack_from("<III", key)
    return ct_home(ct_hash(saddr, daddr, ports, key[12], hkey), nslots)


def formatted_key(k):
    saddr, daddr, sport, dport, proto = struct.unpack_from("<IIHHB", k)
    return {"saddr": saddr, "daddr": daddr, "sport": sport, "dport": dport, "proto": proto,
            "pad": [0, 0, 0]}


def formatted_value(v):
    (to_saddr, to_daddr, to_sport, to_dport, wan_ifindex, bits, flags, packets, last_seen,
     nbytes, td_end, td_ack, nh_slot, nh_tag) = struct.unpack_from("<IIHHHBBIIQIIBB", v)
    return {"to_saddr": to_saddr, "to_daddr": to_daddr, "to_sport": to_sport,
            "to_dport": to_dport, "wan_ifindex": wan_ifindex,
            "dir": bits & 3, "kind": (bits >> 2) & 7, "state": bits >> 5,	# dir:2 kind:3 state:3
            "flags": flags, "packets": packets, "last_seen": last_seen, "bytes": nbytes,
            "td_end": td_end, "td_ack": td_ack,
            "nh": {"slot": nh_slot, "tag": nh_tag, "dmac": list(v[42:48])}}


def hexes(b):
    return ["0x%02x" % c for c in b]


def insert(t, key, val):
    if len(key) != 16 or len(val) != 48:
        raise SystemExit("insert: a key is 16 bytes, a value 48")
    key = key[:13] + bytes(3)
    h = t.head()
    if h["entries"] >= h["limit"]:
        raise SystemExit("insert: nat_ct is at its limit (%d entries)" % h["limit"])
    i, free = home_of(key, t.hkey, t.nslots), 0
    for _ in range(PROBES):
        s = t.slot(i)
        if s[13] == LIVE and s[:12] == key[:12] and s[12] == key[12]:
            raise SystemExit("insert: the key is in slot %d already" % i)
        if not free and s[13] in (EMPTY, DEAD):
            free = i
        if s[13] == EMPTY:
            break
        i = 1 if i >= t.nslots else i + 1
    if not free:
        raise SystemExit("insert: no free slot within %d of the home slot" % PROBES)
    off = free * SLOT
    t.m[off + 16:off + SLOT] = val
    t.m[off:off + 12] = key[:12]
    t.m[off + 12:off + 16] = bytes([key[12], LIVE, 0, 0])	# the lock word last
    struct.pack_into("<Q", t.m, 0, h["entries"] + 1)	# head.entries (the GC recounts it)
    return free


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "dump":
        t = Table(path)
        print(json.dumps([{"key": hexes(k), "value": hexes(v),
                           "formatted": {"key": formatted_key(k), "value": formatted_value(v)}}
                          for k, v in t.live()]))
    elif mode == "count":
        print(sum(1 for _ in Table(path).live()))
    elif mode == "head":
        print(json.dumps(Table(path).head()))
    elif mode == "insert":
        t = Table(path, write=True)
        key = bytes.fromhex(sys.argv[3].replace(" ", ""))
        val = bytes.fromhex(sys.argv[4].replace(" ", ""))
        print(insert(t, key, val))
    elif mode == "old-header":
        t = Table(path, write=True)
        h = t.head()
        t.m[8:64] = struct.pack("<IIII", OLD_MAGIC, 0x5eed1234, h["nslots"], h["limit"]) + bytes(40)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
