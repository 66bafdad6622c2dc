#!/usr/bin/env python3
"""Hostile clients of every kind from issue 18, written once: tests/hostile.rs runs them beside
its /healthz probes, scripts/memory-budget.sh (make test-memory, the VM lab) against a producer
under a memory limit, and bench/bench.py imports them to measure fairness (`run`).

Usage: hostile.py HOST PORT SECONDS KIND=COUNT... [--healthz PATIENCE]
Opens COUNT connections of each KIND (below) to HOST:PORT and keeps them at it for SECONDS, in
one process. Prints "ready" once every connection is at work: it has sent all it sends first, or
the server stopped taking it. With --healthz, a normal client also asks for /healthz on a fresh
connection every 200 ms, from the first second on, and the last line is JSON: the checks, their
failures (no 200 within PATIENCE seconds) and the slowest.
"""
import json
import resource
import selectors
import socket
import sys
import time

GET = b"GET /number HTTP/1.1\r\nHost: x\r\n\r\n"
HEAD = b"GET /number HTTP/1.1\r\nHost: x\r\nX: "  # a head that does not end
POST = b"POST /number HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"

# What each kind sends first, and what it does then: "hold" (nothing more), "drip" (a byte every
# 10 ms) or "read" (pipeline more at once, and read every answer).
KINDS = {
    # Pipelines and never reads its answers: the server must stop reading it, not stall.
    "never-reads": (GET * 50_000, "hold"),
    # Pipelines and reads at full speed: it must get its turns, and no more.
    "full-speed": (GET * 100, "read"),
    # Leaves its answers unread, then stalls half-way through a body.
    "stalled-body": (GET * 5_000 + POST + b"x" * 500, "hold"),
    # A head just under the 8 KiB limit of header lines, never finished.
    "unfinished-head": (HEAD + b"a" * 7_900, "hold"),
    # A head that goes on, a byte at a time (slowloris), still under the limit.
    "slow-head": (HEAD + b"a" * 7_000, "drip"),
}
DRIP = 0.01
# A client that never reads keeps a small receive buffer, as it would if it meant harm: what the
# server has answered then piles up on the server's side, where its bounds must hold. With this
# machine's default the kernel would take megabytes of answers first, each one work for the
# server: 200 such clients would ask an emulated Pi for ten million answers.
UNREAD_BUFFER = 4096


def connect(host, port, reads):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    if not reads:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UNREAD_BUFFER)
    s.connect((host, port))
    return s


def run(host, port, counts, until, ready=lambda: None, between=lambda: None):
    """Connections of each kind in `counts` ({kind: count}), kept at it in one loop until
    `until()` is true. Calls `ready()` once every one is at work, and `between()` after every
    turn of the loop (at least every 10 ms). A connection the server drops is let go: that is
    the server's right."""
    selector = selectors.DefaultSelector()
    pending, after, dripping, starting = {}, {}, [], set()
    for kind, count in counts.items():
        first, then = KINDS[kind]
        for _ in range(count):
            s = connect(host, port, then == "read")
            s.setblocking(False)
            pending[s], after[s] = memoryview(first), then
            starting.add(s)
            selector.register(s, selectors.EVENT_WRITE)

    def at_work(s):
        if s in starting:
            starting.discard(s)
            if not starting:
                ready()

    def let_go(s):
        selector.unregister(s)
        s.close()
        if s in dripping:
            dripping.remove(s)
        at_work(s)

    if not starting:
        ready()
    next_drip = time.monotonic()
    while not until():
        for key, events in selector.select(timeout=DRIP):
            s = key.fileobj
            try:
                if events & selectors.EVENT_READ and not s.recv(65536):
                    let_go(s)
                    continue
                if events & selectors.EVENT_WRITE:
                    sent = s.send(pending[s])
                    pending[s] = pending[s][sent:]
                    if pending[s]:
                        at_work(s)  # the server takes no more for now
                    elif after[s] == "read":
                        pending[s] = memoryview(GET * 100)
                        selector.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
                        at_work(s)
                    else:
                        selector.unregister(s)  # now it only holds on, or drips
                        if after[s] == "drip":
                            dripping.append(s)
                        at_work(s)
            except BlockingIOError:
                at_work(s)
            except OSError:
                let_go(s)
        if dripping and time.monotonic() >= next_drip:
            for s in list(dripping):
                try:
                    s.send(b"a")
                except BlockingIOError:
                    pass
                except OSError:
                    dripping.remove(s)
                    s.close()
            next_drip = time.monotonic() + DRIP
        between()
    for s in pending:
        s.close()


def healthz(host, port, patience):
    """Whether /healthz answers 200 on a fresh connection within `patience` seconds, and how
    long it took."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=patience) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok = s.recv(64).startswith(b"HTTP/1.1 200 ")
    except OSError:
        ok = False
    return ok, time.monotonic() - started


def main(argv):
    patience = None
    if "--healthz" in argv:
        at = argv.index("--healthz")
        patience = float(argv[at + 1])
        del argv[at:at + 2]
    if len(argv) < 4 or not all("=" in a and a.split("=")[0] in KINDS for a in argv[3:]):
        sys.exit(__doc__.split("\n\n")[1] + "\nKINDS: " + ", ".join(KINDS))
    host, port, seconds = argv[0], int(argv[1]), float(argv[2])
    counts = {kind: int(count) for kind, count in (a.split("=") for a in argv[3:])}
    # A descriptor for each connection, and room for the probes.
    wanted = sum(counts.values()) + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))

    started = time.monotonic()
    checks = {"checks": 0, "failures": 0, "slowest_ms": 0.0}
    next_check = [started + 1.0]  # once every client has connected and sent

    def check():
        if patience is None or time.monotonic() < next_check[0]:
            return
        ok, took = healthz(host, port, patience)
        checks["checks"] += 1
        checks["failures"] += not ok
        checks["slowest_ms"] = max(checks["slowest_ms"], round(took * 1000, 1))
        next_check[0] = time.monotonic() + 0.2

    run(host, port, counts, lambda: time.monotonic() >= started + seconds,
        ready=lambda: print("ready", flush=True), between=check)
    if patience is not None:
        print(json.dumps(checks), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
