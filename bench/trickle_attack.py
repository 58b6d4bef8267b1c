#!/usr/bin/env python3
"""trickle_attack: how long a normal request to dtxd waits while slow clients trickle.

Usage: bench/trickle_attack.py PORT [--connections 200] [--every 3] [--from 127.0.0.2]

Opens CONNECTIONS connections to dtxd's HTTP API on 127.0.0.1:PORT from the address
FROM (any 127.x address works on Linux loopback), each sending one byte of a request
every EVERY seconds, and meanwhile times three GET /api/ping requests from 127.0.0.1.
Prints each answer's first line and time, and how many trickling connections dtxd
kept open (the rest it refused: --max-connections-per-address). Loopback only.
"""
import argparse
import socket
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--every", type=float, default=3.0)
    parser.add_argument("--source", "--from", dest="source", default="127.0.0.2")
    args = parser.parse_args()

    tricklers = []
    for _ in range(args.connections):
        s = socket.socket()
        s.bind((args.source, 0))
        s.connect(("127.0.0.1", args.port))
        s.sendall(b"P")
        tricklers.append(s)

    done = threading.Event()

    def trickle():
        while not done.wait(args.every):
            for s in list(tricklers):
                try:
                    s.send(b"O")
                except OSError:  # refused or closed by dtxd
                    tricklers.remove(s)

    thread = threading.Thread(target=trickle)
    thread.start()
    time.sleep(args.every + 1)
    for _ in range(3):
        start = time.time()
        c = socket.create_connection(("127.0.0.1", args.port), timeout=120)
        c.sendall(b"GET /api/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        first = c.recv(1000).split(b"\r\n")[0].decode(errors="replace")
        print("normal request: %.3f s, %s; trickling connections open: %d"
              % (time.time() - start, first, len(tricklers)))
        c.close()
        time.sleep(1)
    done.set()
    thread.join()


if __name__ == "__main__":
    main()
