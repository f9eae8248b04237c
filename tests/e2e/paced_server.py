#!/usr/bin/env python3
"""A paced HTTP file server for test_lifecycle.sh: every response body is
sent at no more than RATE bytes per second, so a download of a few MB stays
live for several seconds (long enough to restart the daemon in the middle).

  paced_server.py ADDR PORT DIR RATE     logs "client_ip - - [date] request" lines

Otherwise http_server.py: GET serves files from DIR, threads, no reverse
DNS lookup at start.
"""
import functools
import http.server
import socketserver
import sys
import time


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class Handler(http.server.SimpleHTTPRequestHandler):
    rate = 1 << 20

    def copyfile(self, source, outputfile):
        start = time.monotonic()
        sent = 0
        while True:
            buf = source.read(16384)
            if not buf:
                break
            outputfile.write(buf)
            sent += len(buf)
            ahead = sent / self.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)


def main():
    addr, port, root, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    Handler.rate = rate
    handler = functools.partial(Handler, directory=root)
    with Server((addr, port), handler) as httpd:
        print("serving %s:%d at %d bytes/s" % (addr, port, rate), flush=True)
        httpd.serve_forever()


if __name__ == "__main__":
    main()
