#!/usr/bin/env python3
"""Opens the producer's live page in headless Chromium and checks, from the page's DOM, what a
person would see: numbers arrive, every replica appears, failed polls are counted and shown,
the pause button and a hidden tab stop the polls, and it fits a phone's width.

Usage: page-check.py URL REPLICA... [--kill NAME=PID] [--screenshot FILE] [--timeout SECONDS]
A REPLICA is the start of a name (fogdeft-vm-2- matches fogdeft-vm-2-producer-1). --kill stops
replica NAME, process PID, once every replica has appeared, and checks that the page counts and
shows the failed polls and greys NAME out. --screenshot saves the page as a PNG at the end.
Prints PASS lines; exits 1 on a failure.

It drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: commands on
the browser's fd 3, answers on fd 4, each a JSON text ended by a NUL byte), so it needs nothing
beyond Python and Debian's chromium.
"""
import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# What the page shows, read off its DOM as a person would read it; null until it has loaded.
SNAPSHOT = """document.getElementById("failed-box") && JSON.stringify({
  number: document.getElementById("number").textContent,
  answered: Number(document.getElementById("polls").textContent),
  failed: Number(document.getElementById("failed").textContent),
  error: document.getElementById("error").textContent,
  state: document.getElementById("state").textContent,
  pause: document.getElementById("pause").textContent,
  replicas: Object.fromEntries([...document.querySelectorAll("#replicas li")].map(
    (li) => [li.dataset.replica, li.querySelector(".count").textContent])),
  stale: [...document.querySelectorAll("#replicas li.stale")].map((li) => li.dataset.replica),
  overflow: document.documentElement.scrollWidth - window.innerWidth,
})"""


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def above_4(fd):
    """The same pipe end as a descriptor above 4, so that the child's dup2 to 3 and 4 cannot
    overwrite another one of them."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """Headless Chromium and one tab, spoken to over the DevTools pipe."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.profile = tempfile.mkdtemp(prefix="fogdeft-chromium.")
        to_browser, self.commands = map(above_4, os.pipe())
        self.answers, from_browser = map(above_4, os.pipe())

        def plumb():  # in the child, before exec: its fds 3 and 4 are the pipe's ends
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self.process = subprocess.Popen(
            [shutil.which("chromium"), "--headless", "--remote-debugging-pipe",
             "--no-sandbox",  # as root, Chromium refuses to start with its sandbox
             "--disable-gpu", "--no-first-run", "--disable-extensions", "--mute-audio",
             "--disable-background-networking", f"--user-data-dir={self.profile}",
             "about:blank"],
            preexec_fn=plumb, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self.buffer, self.next_id, self.session = b"", 0, None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method, **params):
        """Sends one command (to the tab, once attached) and returns its result."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    fail(f"Chromium: {method}: {reply['error']}")
                return reply.get("result", {})

    def read(self):
        """The next message from the browser (events too, which we ignore)."""
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.answers], [], [], left)[0]:
                fail("Chromium did not answer in time")
            chunk = os.read(self.answers, 1 << 16)
            if not chunk:
                fail("Chromium exited")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            fail(f"in the page: {expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def snapshot(self):
        return json.loads(self.evaluate(SNAPSHOT) or "null")

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


def wait_for(browser, what, condition, seconds):
    """Reads the page every 0.2 s until condition(snapshot) holds; fails after `seconds`."""
    limit = time.monotonic() + seconds
    while True:
        page = browser.snapshot()
        if page is not None and condition(page):
            return page
        if time.monotonic() > limit:
            fail(f"{what} (not within {seconds} s); the page shows {page}")
        time.sleep(0.2)


def matches(page, prefix):
    return [name for name in page["replicas"] if name.startswith(prefix)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("replicas", nargs="+")
    parser.add_argument("--kill", metavar="NAME=PID")
    parser.add_argument("--screenshot")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    if not shutil.which("chromium"):
        fail("no chromium on PATH")

    # Each check waits for its own time; this bounds the whole run, should Chromium hang.
    browser = Browser(time.monotonic() + args.timeout + 60)
    try:
        browser.call("Emulation.setDeviceMetricsOverride", width=1100, height=900,
                     deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", url=args.url)

        def all_replicas(page):
            return page["number"].lstrip("-").isdigit() and all(
                matches(page, prefix) for prefix in args.replicas)
        page = wait_for(browser, f"numbers arrive from every replica ({', '.join(args.replicas)})",
                        all_replicas, args.timeout)
        if page["failed"]:
            fail(f"{page['failed']} polls failed while every replica was up: {page['error']}")
        print(f"PASS: the page shows numbers (latest {page['number']}, {page['answered']} polls)"
              f" from every replica, 0 failed: {page['replicas']}")

        # A person's habits: the pause button, and a tab put in the background.
        browser.evaluate('document.getElementById("pause").click()')
        page = wait_for(browser, "the pause button pauses", lambda p: p["state"] == "paused", 5)
        paused_at = page["answered"]
        browser.evaluate('document.getElementById("pause").click()')
        wait_for(browser, "polls go on after Resume",
                 lambda p: p["state"] == "live" and p["answered"] > paused_at, 10)
        print(f"PASS: the Pause button pauses (the page says so, and the button says \"{page['pause']}\"),"
              " and Resume brings the polls back")
        browser.evaluate("""Object.defineProperty(document, "visibilityState",
            {value: "hidden", configurable: true});
            document.dispatchEvent(new Event("visibilitychange"))""")
        page = wait_for(browser, "a hidden tab pauses", lambda p: p["state"] == "paused: tab hidden", 5)
        hidden_at = page["answered"]
        browser.evaluate("""delete document.visibilityState;
            document.dispatchEvent(new Event("visibilitychange"))""")
        wait_for(browser, "polls go on when the tab shows again",
                 lambda p: p["state"] == "live" and p["answered"] > hidden_at, 10)
        print("PASS: a hidden tab pauses (visibilitychange), and the polls come back when it shows")

        # A phone: 390 CSS pixels wide, nothing to scroll sideways.
        browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844,
                     deviceScaleFactor=3, mobile=True)
        page = wait_for(browser, "the page fits a 390 px wide phone", lambda p: p["overflow"] <= 0, 5)
        print("PASS: on a 390 px wide phone screen nothing sticks out sideways")
        browser.call("Emulation.setDeviceMetricsOverride", width=1100, height=900,
                     deviceScaleFactor=1, mobile=False)

        if args.kill:
            name, pid = args.kill.split("=")
            before = page["answered"]
            os.kill(int(pid), signal.SIGTERM)
            page = wait_for(browser, f"the page counts and shows the failed polls of killed {name}",
                            lambda p: p["failed"] > 0 and p["error"] and p["answered"] > before + 2,
                            args.timeout)
            print(f"PASS: {name} killed: the page counts its failed polls ({page['failed']} so far),"
                  f" shows the last (\"{page['error']}\"), and numbers from the others go on"
                  f" ({page['answered']} answered)")
            page = wait_for(browser, f"killed {name} turns grey", lambda p: p["stale"] == [name], 10)
            print(f"PASS: {name} turns grey once unheard for 5 s, the others stay live: {page['replicas']}")

        if args.screenshot:
            height = browser.evaluate("Math.ceil(document.body.getBoundingClientRect().bottom) + 8")
            shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                clip={"x": 0, "y": 0, "width": 1100, "height": height, "scale": 1})
            with open(args.screenshot, "wb") as out:
                out.write(base64.b64decode(shot["data"]))
            print(f"saved {args.screenshot}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
