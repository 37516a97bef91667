#!/usr/bin/env python3
"""Drives headless Chromium (Debian's) over the DevTools protocol, with nothing
but the standard library, for the dashboard test: loads URL, reads the
rendered page (not its HTML source) three times: at once, after WAIT seconds,
and after clicking the cancel button of job CANCEL; keeps a screenshot at
desktop and at phone width. Prints one JSON object: {"snapshots": [...]},
each snapshot {"text": the page's rendered text, "progress": {job: value}}.

usage: dashboard-browser.py URL CANCEL WAIT SCREENSHOT_PREFIX
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

url, cancel, wait, screenshots = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
profile = tempfile.mkdtemp(prefix="vqueue-chromium-")
browser = subprocess.Popen(
    [shutil.which("chromium") or "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
     "--no-first-run", "--disable-extensions", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


class Page:
    """One page's DevTools websocket (RFC 6455, client side: masked text frames)."""

    def __init__(self, ws_url):
        host, port, path = re.match(r"ws://([^:/]+):(\d+)(/.*)", ws_url).groups()
        self.sock = socket.create_connection((host, int(port)), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += self.sock.recv(4096)
        head, self.pending = answer.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.next_id = 0

    def read(self, count):
        while len(self.pending) < count:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("DevTools closed the connection")
            self.pending += chunk
        data, self.pending = self.pending[:count], self.pending[count:]
        return data

    def frame(self):
        message = b""
        while True:
            first, second = self.read(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(self.read(2), "big")
            elif length == 127:
                length = int.from_bytes(self.read(8), "big")
            message += self.read(length)
            if first & 0x80:
                return message

    def call(self, method, **params):
        self.next_id += 1
        payload = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + len(payload).to_bytes(8, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:
            reply = json.loads(self.frame())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    def snapshot(self):
        return self.evaluate("""({text: document.body.innerText,
            progress: Object.fromEntries(Array.from(document.querySelectorAll('progress[data-job]')).map(p => [p.dataset.job, p.value]))})""")

    def screenshot(self, path, width, height):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=width < 600)
        time.sleep(0.5)
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]))


try:
    port = None
    deadline = time.time() + 120
    while port is None and time.time() < deadline:
        line = browser.stderr.readline()
        found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if found:
            port = int(found.group(1))
        elif not line and browser.poll() is not None:
            raise RuntimeError("chromium exited before it listened")
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=60))
    page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
    page.call("Page.enable")
    page.call("Page.navigate", url=url)
    while page.evaluate("document.readyState") != "complete" or not page.evaluate("!!document.getElementById('tables')"):
        time.sleep(0.2)
    snapshots = [page.snapshot()]
    time.sleep(wait)
    snapshots.append(page.snapshot())
    clicked = page.evaluate(f"""(() => {{ const b = document.querySelector('button[data-action=cancel][data-job="{cancel}"]');
        if (!b) return false; b.click(); return true; }})()""")
    time.sleep(wait)
    snapshots.append(page.snapshot())
    page.screenshot(screenshots + "-desktop.png", 1280, 900)
    page.screenshot(screenshots + "-phone.png", 390, 844)
    print(json.dumps({"snapshots": snapshots, "clicked": clicked}))
finally:
    browser.kill()
    browser.wait()
    shutil.rmtree(profile, ignore_errors=True)
