#!/usr/bin/env python3
"""A round-robin TCP front on loopback, for make test-page: each new connection goes to the next
backend in turn, as Swarm's routing mesh (IPVS) balances connections, not requests. A browser
that reused one connection for its polls would so reach one replica only.

Usage: rr-front.py LIFETIME_SECONDS BACKEND_PORT...
Listens on a free port of 127.0.0.1 and prints it on one line. A connection whose backend
refuses (a killed replica) is closed at once, as the mesh does while a dead task is still in its
table. It stops by itself after LIFETIME_SECONDS.
"""
import itertools
import os
import socket
import sys
import threading


def pump(source, sink):
    """Copies bytes one way until the source is done, then passes the end on."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            try:
                sock.shutdown(how)
            except OSError:
                pass


def serve(client, port):
    with client:
        try:
            backend = socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            return  # closing the client unanswered: the page counts a failed poll
        with backend:
            backend.settimeout(None)
            back = threading.Thread(target=pump, args=(backend, client), daemon=True)
            back.start()
            pump(client, backend)
            back.join()


def main():
    lifetime, ports = float(sys.argv[1]), [int(p) for p in sys.argv[2:]]
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    threading.Timer(lifetime, os._exit, args=(0,)).start()
    for port in itertools.cycle(ports):
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, port), daemon=True).start()


if __name__ == "__main__":
    main()
