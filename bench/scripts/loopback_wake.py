#!/usr/bin/env python3
"""The floor's c=1, 20 ms turn with no .NET anywhere: what the host's loopback and scheduler add to a round trip.

One request at a time over loopback TCP; the server holds each for 20 ms (a sleep, then its last 6 ms spun, as the
floor's simulator does at c=1) and answers with its own span; each round trip less that span is the time outside the
server, the figure `floor` prints per path as "time outside the upstream". Set beside direct's row of that table, it says
how much of direct's tail the host makes and how much the .NET client and simulator do.

Usage: python3 bench/scripts/loopback_wake.py [TURNS]   (default 1500, ~31 s)
"""
import os
import socket
import struct
import sys
import time

HOLD_NS, SPIN_NS = 20_000_000, 6_000_000


def serve(listener):
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while conn.recv(1):
        start = time.perf_counter_ns()
        time.sleep((HOLD_NS - SPIN_NS) / 1e9)
        while time.perf_counter_ns() - start < HOLD_NS:
            pass
        conn.sendall(struct.pack("q", time.perf_counter_ns() - start))
    os._exit(0)


def main():
    turns = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    if os.fork() == 0:
        serve(listener)
    client = socket.create_connection(listener.getsockname())
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    outside = []
    for _ in range(turns):
        sent = time.perf_counter_ns()
        client.sendall(b"x")
        answer = b""
        while len(answer) < 8:
            answer += client.recv(8 - len(answer))
        outside.append((time.perf_counter_ns() - sent - struct.unpack("q", answer)[0]) / 1000)
    outside.sort()
    at = lambda p: outside[min(len(outside) - 1, int(p * len(outside)))]
    print(f"{turns} turns, time outside the server, µs: p50 {at(.5):.0f}, p90 {at(.9):.0f}, p99 {at(.99):.0f}, max {outside[-1]:.0f}")


if __name__ == "__main__":
    main()
