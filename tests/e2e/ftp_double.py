#!/usr/bin/env python3
"""A minimal FTP server and client for test_ftp.sh: an AUTH TLS that comes
*after* a rewritten 227, which vsftpd does not allow (it takes AUTH only
before login) but RFC 4217 does. The ALG then hands the flow back to XDP
with a non-zero sequence offset, which XDP must keep applying to the
encrypted control channel.

  ftp_double.py server ADDR ROOT CERT KEY PASV_LO PASV_HI [PORT]
      one session at a time on ADDR:PORT (default 21); 227 names ADDR (the
      private address); NOOP, TYPE, PBSZ, PROT answer 200
  ftp_double.py client HOST FILE
      login in clear, PASV + RETR FILE (227 honoured: the ALG rewrote it),
      AUTH TLS, PBSZ/PROT C, PASV + RETR FILE again (227 address ignored:
      encrypted, so the ALG could not rewrite it), QUIT; prints
      "<sha256 before TLS> <sha256 after TLS>"
  ftp_double.py hold HOST SECONDS
      login, PASV (prints the 227), wait, QUIT: an expectation that is
      never used
"""
import ftplib
import hashlib
import os
import socket
import ssl
import sys
import time


def serve(addr, root, cert, key, lo, hi, port=21):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4)
    print("listening", flush=True)
    while True:
        c, peer = ls.accept()
        try:
            session(c, peer, addr, root, ctx, lo, hi)
        except (OSError, ssl.SSLError) as e:
            print("session error", e, flush=True)
        finally:
            c.close()


def session(c, peer, addr, root, ctx, lo, hi):
    f = c.makefile("rwb", buffering=0)
    data_ls = None
    port = lo

    def reply(text):
        f.write(text.encode() + b"\r\n")

    reply("220 double ready")
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.decode(errors="replace").strip()
        print(peer[0], cmd, flush=True)
        verb, _, arg = cmd.partition(" ")
        verb = verb.upper()
        if verb == "USER":
            reply("331 any password")
        elif verb == "PASS":
            reply("230 logged in")
        elif verb in ("TYPE", "PBSZ", "PROT", "NOOP"):
            reply("200 ok")
        elif verb == "AUTH":
            reply("234 go ahead")
            c = ctx.wrap_socket(c, server_side=True)
            f = c.makefile("rwb", buffering=0)
        elif verb == "PASV":
            if data_ls:
                data_ls.close()
            data_ls = socket.socket()
            data_ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            data_ls.bind((addr, port))
            data_ls.listen(1)
            data_ls.settimeout(10)
            h = addr.replace(".", ",")
            reply("227 Entering Passive Mode (%s,%d,%d)." % (h, port >> 8, port & 255))
            port = port + 1 if port < hi else lo
        elif verb == "RETR" and data_ls:
            reply("150 here it comes")
            d, _ = data_ls.accept()
            with open(os.path.join(root, os.path.basename(arg)), "rb") as src:
                d.sendall(src.read())
            d.close()
            data_ls.close()
            data_ls = None
            reply("226 done")
        elif verb == "QUIT":
            reply("221 bye")
            return
        else:
            reply("502 not here")


def client(host, name):
    f = ftplib.FTP_TLS(context=ssl._create_unverified_context(), timeout=10)
    f.connect(host, 21)
    ftplib.FTP.login(f)                 # in clear: the ALG reads it all
    f.trust_server_pasv_ipv4_address = True
    h1 = hashlib.sha256()
    f.retrbinary("RETR " + name, h1.update)
    f.auth()                            # AUTH TLS -> 234: the flow goes opaque
    f.prot_c()
    f.trust_server_pasv_ipv4_address = False
    h2 = hashlib.sha256()
    f.retrbinary("RETR " + name, h2.update)
    f.quit()
    print(h1.hexdigest(), h2.hexdigest())


def hold(host, seconds):
    f = ftplib.FTP(timeout=10)
    f.connect(host, 21)
    f.login()
    print(f.sendcmd("PASV"), flush=True)
    time.sleep(seconds)
    f.quit()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]),
              int(sys.argv[7]), int(sys.argv[8]) if len(sys.argv) > 8 else 21)
    elif sys.argv[1] == "hold":
        hold(sys.argv[2], float(sys.argv[3]))
    else:
        client(sys.argv[2], sys.argv[3])
