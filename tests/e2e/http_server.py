#!/usr/bin/env python3
"""HTTP file server for the e2e tests: http.server without its reverse DNS
lookup at start (HTTPServer.server_bind calls getfqdn, which would query the
host's resolver from inside a test namespace and stall for seconds).

  http_server.py ADDR PORT DIR     logs "client_ip - - [date] request" lines
"""
import functools
import http.server
import socketserver
import sys


class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    addr, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
    with Server((addr, port), handler) as httpd:
        print("serving %s:%d" % (addr, port), flush=True)
        httpd.serve_forever()


if __name__ == "__main__":
    main()
