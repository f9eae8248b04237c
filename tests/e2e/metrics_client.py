#!/usr/bin/env python3
"""Hostile and plain clients of the metrics endpoint, for test_metrics.sh.

  metrics_client.py slowloris HOST PORT N SECONDS
      opens N connections, sends a partial request on each and then one
      more header byte every 0.2 s; prints "closed K after S s" for each
      connection the server closed (max SECONDS), "open K" for each still
      open at the end. "connected" once all N are open.
  metrics_client.py huge HOST PORT BYTES
      sends a request line and BYTES of headers; prints the status line the
      server answered (or "closed" if it closed without one).
  metrics_client.py idle HOST PORT N SECONDS
      opens N connections and sends nothing; holds them SECONDS.
"""
import socket
import sys
import time


def slowloris(host, port, n, secs):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=2)
        s.setblocking(False)
        s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append([s, None])
    print("connected", flush=True)
    start = time.monotonic()
    while time.monotonic() - start < secs and any(c is None for _, c in socks):
        time.sleep(0.2)
        for k, ent in enumerate(socks):
            if ent[1] is not None:
                continue
            try:
                ent[0].send(b"a")
                data = ent[0].recv(4096)
                if data == b"":
                    ent[1] = time.monotonic() - start
            except BlockingIOError:
                pass
            except OSError:
                ent[1] = time.monotonic() - start
    for k, (s, closed) in enumerate(socks):
        print(f"closed {k} after {closed:.1f} s" if closed is not None else f"open {k}")
        s.close()


def huge(host, port, size):
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X-Big: " + b"a" * size + b"\r\n\r\n")
    except OSError:
        pass
    try:
        data = s.recv(4096)
    except OSError:
        data = b""
    print(data.split(b"\r\n")[0].decode() if data else "closed")


def idle(host, port, n, secs):
    socks = [socket.create_connection((host, port), timeout=2) for _ in range(n)]
    print("connected", flush=True)
    time.sleep(secs)
    for s in socks:
        s.close()


if __name__ == "__main__":
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "slowloris":
        slowloris(host, port, int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "huge":
        huge(host, port, int(sys.argv[4]))
    else:
        idle(host, port, int(sys.argv[4]), float(sys.argv[5]))
