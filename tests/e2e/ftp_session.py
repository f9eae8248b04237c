#!/usr/bin/env python3
"""A long-lived FTP client session for test_lifecycle.sh: one control
connection that lives across a restart of the daemon. The test drives it
with flag files in DIR: the session does its first part, prints "ready",
waits (at most 60 s) for DIR/go, does the second part on the SAME control
connection and prints "bye".

  ftp_session.py plain HOST PORT FILE DIR
      login (anonymous, in clear: the ALG inspects everything),
      PASV + RETR FILE                       -> "before <227 address> <sha256>"
      ready ... go
      NOOP, PASV + RETR FILE                 -> "after <227 address> <sha256>"
      The data connections go to the address the 227 names, so an
      unrewritten 227 (a private address) fails.
  ftp_session.py tls HOST PORT FILE DIR      (against ftp_double.py server)
      login in clear, PASV + RETR FILE       -> "clear <227 address> <sha256>"
      (the ALG rewrites that 227: a sequence offset), AUTH TLS, PROT C: the
      flow is handed back to XDP, opaque, with that offset;
      PASV + RETR FILE                       -> "tls <227 address> <sha256>"
      ready ... go
      3 x NOOP, PASV + RETR FILE             -> "after <227 address> <sha256>"
      After AUTH TLS the 227 is encrypted, nobody can rewrite it: the data
      connections go to HOST (the server's passive address is ignored).
Each PASV also prints "227 <step> <address named>" as soon as it is answered.
A failed step prints "error <step>: <reason>" and exits 1.
"""
import ftplib
import hashlib
import os
import socket
import ssl
import sys
import time


def wait_flag(d, name, limit=60):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if os.path.exists(os.path.join(d, name)):
            return
        time.sleep(0.05)
    raise TimeoutError("no %s within %d s" % (name, limit))


def pasv_retr(f, label, name, host, trust):
    """PASV + RETR by hand: prints "227 <label> <address named>" at once,
    returns (address named by the 227, sha256)."""
    addr, port = ftplib.parse227(f.sendcmd("PASV"))
    print("227 %s %s" % (label, addr), flush=True)
    d = socket.create_connection((addr if trust else host, port), timeout=10)
    try:
        f.sendcmd("RETR " + name)          # 150 (a 4xx/5xx raises)
        h = hashlib.sha256()
        while True:
            b = d.recv(65536)
            if not b:
                break
            h.update(b)
    finally:
        d.close()
    f.voidresp()                            # 226
    return addr, h.hexdigest()


def main():
    mode, host, port, name, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    step = "connect"
    try:
        if mode == "tls":
            f = ftplib.FTP_TLS(context=ssl._create_unverified_context(), timeout=10)
        else:
            f = ftplib.FTP(timeout=10)
        f.connect(host, port)
        step = "login"
        ftplib.FTP.login(f)                 # in clear, also for tls
        if mode == "plain":
            step = "before"
            print("before %s %s" % pasv_retr(f, "before", name, host, True), flush=True)
        else:
            step = "clear"
            print("clear %s %s" % pasv_retr(f, "clear", name, host, True), flush=True)
            step = "auth"
            f.auth()
            f.prot_c()
            step = "tls"
            print("tls %s %s" % pasv_retr(f, "tls", name, host, False), flush=True)
        print("ready", flush=True)
        step = "wait"
        wait_flag(d, "go")
        step = "noop"
        for _ in range(1 if mode == "plain" else 3):
            f.voidcmd("NOOP")
        step = "after"
        print("after %s %s" % pasv_retr(f, "after", name, host, mode == "plain"), flush=True)
        step = "quit"
        f.quit()
        print("bye", flush=True)
    except (OSError, EOFError, ftplib.Error, ssl.SSLError) as e:
        print("error %s: %s" % (step, e), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
