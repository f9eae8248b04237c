#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""ddns_server.py - a local HTTPS double of the DDNS providers, for test_ddns.sh.

Listens on --addr (default 127.0.0.1; a free port unless --port), writes the port to
--port-file once it accepts connections, and appends every request as one
JSON line to --log: {"method", "path", "query" (dict of lists), "auth"
(the raw Authorization header), "agent", "body", "peer" (the client address)}.

Endpoints:
  GET   /nic/update?hostname=H&myip=A          dyndns2 and noip (Basic auth)
  GET   /ph/update?hostname=H&myip=A           oray (Basic auth)
  GET   /client/v4/zones?name=Z                cloudflare (Bearer token)
  GET   /client/v4/zones/ID/dns_records?type=A&name=H
  PATCH /client/v4/zones/ID/dns_records/RID    body {"content": A}
  GET   /custom?...                            custom URL templates

Behaviour by host name (the hostname= or h= parameter), first label:
  good, nochg, badauth, notfqdn, nohost, donator (!donator), abuse,
  badagent, numhost, yours (!yours), 911, dnserr -> that reply code;
  slow -> sleeps 40 s before answering; garbage -> 4 KiB of random bytes;
  big -> 10 MB body with Content-Length; bigchunked -> 10 MB without a
  length (read until close); 5xx -> HTTP 503; anything else -> "good A".
Wrong or missing credentials -> HTTP 401 "badauth" (cloudflare: 403 JSON).
Cloudflare knows zone example.com (id zone0001) with A records
cf.example.com and www.cf.example.com (ids rec0001, rec0002, 192.0.2.1).
"""
import argparse
import base64
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CODES = {
    "good": None, "nochg": "nochg", "badauth": "badauth", "notfqdn": "notfqdn",
    "nohost": "nohost", "donator": "!donator", "abuse": "abuse",
    "badagent": "badagent", "numhost": "numhost", "yours": "!yours",
    "911": "911", "dnserr": "dnserr",
}
ZONES = {"example.com": "zone0001"}
RECORDS = {
    "cf.example.com": {"id": "rec0001", "content": "192.0.2.1"},
    "www.cf.example.com": {"id": "rec0002", "content": "192.0.2.1"},
}
BIG = 10 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    server_version = "ddns-test/1"
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def record(self, body):
        u = urlsplit(self.path)
        entry = {
            "method": self.command, "path": u.path, "query": parse_qs(u.query),
            "auth": self.headers.get("Authorization", ""),
            "agent": self.headers.get("User-Agent", ""), "body": body,
            "peer": self.client_address[0],
        }
        with self.server.log_lock:
            with open(self.server.args.log, "a") as f:
                f.write(json.dumps(entry) + "\n")
        return u.path, entry["query"]

    def send(self, status, body, ctype="text/plain", length=True):
        if isinstance(body, str):
            body = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass

    def basic_ok(self):
        a = self.server.args
        want = "Basic " + base64.b64encode(f"{a.user}:{a.password}".encode()).decode()
        return self.headers.get("Authorization", "") == want

    def bearer_ok(self):
        return self.headers.get("Authorization", "") == "Bearer " + self.server.args.token

    def do_GET(self):
        path, q = self.record(None)
        if path in ("/nic/update", "/ph/update"):
            self.dyndns2(q, self.basic_ok())
        elif path == "/custom":
            self.dyndns2({"hostname": q.get("h", [""]), "myip": q.get("ip", [""])},
                         q.get("p", [""])[0] == self.server.args.password)
        elif path.startswith("/client/v4/zones"):
            self.cloudflare_get(path, q)
        else:
            self.send(404, "not found")

    def do_PATCH(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(min(n, 65536)).decode(errors="replace")
        path, _ = self.record(body)
        if not self.bearer_ok():
            return self.cf_error(403, 10000, "Authentication error")
        parts = path.split("/")
        rec = next((r for r in RECORDS.values() if r["id"] == parts[-1]), None)
        if len(parts) != 7 or parts[4] != "zone0001" or rec is None:
            return self.cf_error(404, 81044, "Record does not exist.")
        try:
            rec["content"] = json.loads(body)["content"]
        except (ValueError, KeyError, TypeError):
            return self.cf_error(400, 9207, "Request body is invalid.")
        self.cf_reply([rec], single=True)

    def dyndns2(self, q, auth_ok):
        host = q.get("hostname", [""])[0]
        ip = q.get("myip", [""])[0]
        if not auth_ok:
            return self.send(401, "badauth")
        self.behave(host.split(".")[0], ip)

    def behave(self, label, ip):
        if label == "slow":
            time.sleep(40)
            return self.send(200, f"good {ip}")
        if label == "garbage":
            return self.send(200, os.urandom(4096), "application/octet-stream")
        if label in ("big", "bigchunked"):
            return self.send_big(label == "big")
        if label == "5xx":
            return self.send(503, "Service Unavailable")
        code = CODES.get(label)
        self.send(200, code if code else f"good {ip}")

    def send_big(self, with_length):
        try:
            self.send_response(200)
            if with_length:
                self.send_header("Content-Length", str(BIG))
            self.end_headers()
            chunk = b"good " * 13107
            for _ in range(BIG // len(chunk)):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass

    def cloudflare_get(self, path, q):
        if not self.bearer_ok():
            return self.cf_error(403, 10000, "Authentication error")
        parts = path.split("/")
        if path == "/client/v4/zones":
            name = q.get("name", [""])[0]
            zone = ZONES.get(name)
            return self.cf_reply([{"id": zone, "name": name}] if zone else [])
        if len(parts) == 6 and parts[5] == "dns_records" and parts[4] == "zone0001":
            rec = RECORDS.get(q.get("name", [""])[0])
            label = q.get("name", [""])[0].split(".")[0]
            if label in ("slow", "garbage", "big", "5xx"):
                return self.behave(label, "")
            return self.cf_reply([dict(rec, type="A")] if rec else [])
        self.cf_error(404, 7003, "Could not route")

    def cf_reply(self, result, single=False):
        body = {"success": True, "errors": [], "messages": [],
                "result": result[0] if single else result}
        self.send(200, json.dumps(body), "application/json")

    def cf_error(self, status, code, msg):
        body = {"success": False, "errors": [{"code": code, "message": msg}],
                "messages": [], "result": None}
        self.send(status, json.dumps(body), "application/json")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gives up (timeout, bad CA) is expected


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--token", default="token")
    args = ap.parse_args()

    srv = Server((args.addr, args.port), Handler)
    srv.args = args
    srv.log_lock = threading.Lock()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    # handshake in the handler thread, so a stuck client cannot block accept()
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                 do_handshake_on_connect=False)
    port = srv.socket.getsockname()[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.rename(args.port_file + ".tmp", args.port_file)
    print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
