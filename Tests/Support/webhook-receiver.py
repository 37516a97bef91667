#!/usr/bin/env python3
"""A webhook receiver for the end-to-end tests, on loopback.

Each request is verified with the README's Python example (its `verify_webhook`,
taken from README.md by the test and given with --verify-code) and written to
--log as one JSON line before it is answered: n, path, headers (lower-case),
body, valid, answer, peak (requests in progress at once, most so far).

--answers: the answer to request 1, 2, ... (the last one repeats): an HTTP
status, or "hang" (never answered). The port is bound at once (and written to
--port-file), but connections are taken only once --up-file exists: until
then deliveries are refused.
"""
import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--secret-file", required=True)
parser.add_argument("--verify-code", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--port-file", required=True)
parser.add_argument("--answers", default="200")
parser.add_argument("--up-file", required=True)
args = parser.parse_args()

names = {}
exec(open(args.verify_code).read(), names)
verify_webhook = names["verify_webhook"]
secret = open(args.secret_file).read().strip()
answers = args.answers.split(",")
lock = threading.Lock()
state = {"count": 0, "active": 0, "peak": 0}
log = open(args.log, "a", buffering=1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        with lock:
            state["count"] += 1
            n = state["count"]
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            answer = answers[min(n, len(answers)) - 1]
            record = {"n": n, "path": self.path, "headers": headers, "body": body.decode("utf-8", "replace"),
                      "valid": verify_webhook(secret, headers, body), "answer": answer, "peak": state["peak"],
                      "received": time.time()}
            log.write(json.dumps(record) + "\n")
        try:
            if answer == "hang":
                time.sleep(3600)
                return
            self.send_response(int(answer))
            self.send_header("Content-Length", "0")
            self.end_headers()
        finally:
            with lock:
                state["active"] -= 1

    def log_message(self, *arguments):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
server.daemon_threads = True
server.server_bind()
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)
while not os.path.exists(args.up_file):
    time.sleep(0.1)
server.server_activate()
server.serve_forever()
