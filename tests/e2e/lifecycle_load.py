#!/usr/bin/env python3
"""Traffic of a LAN host for test_lifecycle.sh, until killed:

  lifecycle_load.py UDP_HOST UDP_PORT HTTP_HOST HTTP_PORT PATH SIZE

 - one UDP socket (one established flow) sends a datagram every 10 ms to an
   echo server; every echo that comes back is logged as
       U <time received> <sequence number>
 - every 100 ms a NEW TCP connection (a new flow) fetches http://HOST:PORT/PATH
   and checks that SIZE bytes of body came; each is logged when it ends as
       T <time started> <time ended> ok
       T <time started> <time ended> fail <reason>
   (each in its own thread, 5 s timeout, so a slow one does not hold up the
   stream).
Times are time.time() (CLOCK_REALTIME, like bash's $EPOCHREALTIME).
"""
import socket
import struct
import sys
import threading
import time

lock = threading.Lock()


def log(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def udp_receiver(s):
    while True:
        try:
            data = s.recv(2048)
        except OSError:
            continue
        if len(data) >= 8:
            log("U %.6f %d" % (time.time(), struct.unpack("!Q", data[:8])[0]))


def tcp_one(host, port, path, size):
    t0 = time.time()
    try:
        c = socket.create_connection((host, port), timeout=5)
        c.settimeout(5)
        c.sendall(("GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode())
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        c.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.0 200") or len(body) != size:
            log("T %.6f %.6f fail bad reply (%d bytes of body)" % (t0, time.time(), len(body)))
            return
        log("T %.6f %.6f ok" % (t0, time.time()))
    except OSError as e:
        log("T %.6f %.6f fail %s" % (t0, time.time(), e))


def main():
    uhost, uport, thost, tport, path, size = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                              int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((uhost, uport))
    threading.Thread(target=udp_receiver, args=(s,), daemon=True).start()
    seq = 0
    next_tcp = time.monotonic()
    while True:
        try:
            s.send(struct.pack("!Q", seq) + b"x" * 56)
        except OSError:
            pass
        seq += 1
        if time.monotonic() >= next_tcp:
            next_tcp += 0.1
            threading.Thread(target=tcp_one, args=(thost, tport, path, size), daemon=True).start()
        time.sleep(0.01)


if __name__ == "__main__":
    main()
