#!/usr/bin/env python3
"""tun_relay.py NAME_A NAME_B: two TUN devices (IFF_TUN|IFF_NO_PI) in the
current namespace joined back to back: what one sends, the other receives.
Like a PPP link without a link-layer header. Move them to other namespaces
with `ip link set NAME netns NS` after 'ready' is printed."""
import fcntl, os, select, struct, sys
TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd
a, b = tun(sys.argv[1]), tun(sys.argv[2])
print("ready", flush=True)
peer = {a: b, b: a}
while True:
    r, _, _ = select.select([a, b], [], [])
    for fd in r:
        try:
            pkt = os.read(fd, 65536)
            os.write(peer[fd], pkt)
        except OSError:
            pass
