#!/usr/bin/env python3
"""One FTP session that asks for many passive ports, for test_ftp.sh: the
shape of a logged-in client trying to fill the ALG's expectations.

  ftp_pasv_many.py HOST N FILE DIR
      login (anonymous, in clear: the ALG inspects everything), then N
      PASV commands on the same control connection, each answered by a 227
      whose private address the ALG rewrites (an expectation each time);
      prints "ctl <local port of the control connection>" and "ready",
      waits (at most 60 s) for DIR/go, then downloads FILE on the SAME
      session (PASV + RETR, data connection to HOST: the port is the one
      the rewritten 227 names) and prints "sha <sha256>".
A failed step prints "error <step>: <reason>" and exits 1.
"""
import ftplib
import hashlib
import os
import sys
import time


def main():
    host, n, name, d = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    step = "connect"
    try:
        f = ftplib.FTP(timeout=10)
        f.connect(host, 21)
        step = "login"
        f.login()
        print("ctl %d" % f.sock.getsockname()[1], flush=True)
        step = "pasv"
        for _ in range(n):
            ftplib.parse227(f.sendcmd("PASV"))
        print("ready", flush=True)
        step = "wait"
        end = time.monotonic() + 60
        while not os.path.exists(os.path.join(d, "go")):
            if time.monotonic() > end:
                raise TimeoutError("no go within 60 s")
            time.sleep(0.05)
        step = "retr"
        h = hashlib.sha256()
        f.retrbinary("RETR " + name, h.update)
        print("sha %s" % h.hexdigest(), flush=True)
        f.quit()
    except (OSError, EOFError, ftplib.Error) as e:
        print("error %s: %s" % (step, e), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
