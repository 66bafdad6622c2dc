#!/usr/bin/env python3
"""Hostile clients of every kind from issue 18, against a producer at HOST:PORT (loopback, or a
lab node), while a normal client asks for /healthz on a fresh connection every 200 ms. Used by
scripts/memory-budget.sh.

Usage: hostile-clients.py HOST PORT CONNECTIONS SECONDS [PATIENCE]
Splits CONNECTIONS over three kinds that each hold what they can: pipeliners that never read
their answers, unfinished heads just under the header limit, and clients that leave answers
unread and stall half-way through a body; plus 8 that pipeline and read at full speed. Prints
one line: the /healthz checks, their failures and the slowest, as JSON. A check fails when no
answer comes within PATIENCE seconds (2; more for an emulated machine).
"""
import json
import resource
import selectors
import socket
import sys
import time

host, port, connections, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
patience = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
resource.setrlimit(resource.RLIMIT_NOFILE, (connections + 256,) * 2)
GET = b"GET /number HTTP/1.1\r\nHost: x\r\n\r\n"
KINDS = {
    "never reads": GET * 6000,
    "unfinished head": b"GET /number HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 7900,
    "stalled body": GET * 2000 + b"POST /number HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 999,
}
FULL_SPEED = 8

selector = selectors.DefaultSelector()
pending = {}  # socket -> bytes still to send
readers = []
for n in range(connections):
    kind = list(KINDS)[n % len(KINDS)]
    s = socket.create_connection((host, port))
    s.setblocking(False)
    pending[s] = KINDS[kind]
    selector.register(s, selectors.EVENT_WRITE)
for _ in range(FULL_SPEED):
    s = socket.create_connection((host, port))
    s.setblocking(False)
    readers.append(s)
    selector.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)


def healthz():
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=patience) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok = s.recv(64).startswith(b"HTTP/1.1 200 ")
    except OSError:
        ok = False
    return ok, time.monotonic() - started


checks, failures, slowest = 0, 0, 0.0
deadline = time.monotonic() + seconds
next_check = time.monotonic() + 1.0  # once every client has connected and sent
while time.monotonic() < deadline:
    for key, events in selector.select(timeout=0.05):
        s = key.fileobj
        try:
            if s in readers:
                if events & selectors.EVENT_READ:
                    s.recv(65536)
                if events & selectors.EVENT_WRITE:
                    s.send(GET * 100)
            elif pending.get(s):
                sent = s.send(pending[s])
                pending[s] = pending[s][sent:]
                if not pending[s]:
                    selector.unregister(s)  # now it only holds on
        except BlockingIOError:
            pass
        except OSError:
            selector.unregister(s)
    if time.monotonic() >= next_check:
        ok, took = healthz()
        checks, failures, slowest = checks + 1, failures + (not ok), max(slowest, took)
        next_check = time.monotonic() + 0.2
print(json.dumps({"checks": checks, "failures": failures, "slowest_ms": round(slowest * 1000, 1)}))
