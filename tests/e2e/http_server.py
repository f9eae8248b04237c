#!/usr/bin/env python3
"""HTTP file server for the e2e tests: http.server without its reverse DNS
lookup at start (HTTPServer.server_bind calls getfqdn, which would query the
host's resolver from inside a test namespace and stall for seconds).

  http_server.py ADDR PORT DIR     logs "client_ip - - [date] request" lines

GET serves files from DIR; PUT reads the body and answers its sha256 (an
upload whose integrity the client can check).
"""
import functools
import hashlib
import http.server
import socketserver
import sys


class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_PUT(self):
        left = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        body = (digest.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    addr, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    handler = functools.partial(Handler, directory=root)
    with Server((addr, port), handler) as httpd:
        print("serving %s:%d" % (addr, port), flush=True)
        httpd.serve_forever()


if __name__ == "__main__":
    main()
