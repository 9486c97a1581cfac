#!/usr/bin/env python3
"""A TCP proxy for fault tests: forwards 127.0.0.1:<listen> to <target host:port>.

SIGUSR1 cuts every connection and refuses new ones (the database "goes away");
SIGUSR2 accepts again (it "comes back"). Prints "listening <port> <pid>" once ready.
Usage: pausable-proxy.py <target-host> <target-port>
"""
import os
import selectors
import signal
import socket
import sys

target = (sys.argv[1], int(sys.argv[2]))
selector = selectors.DefaultSelector()
pairs = {}
state = {"paused": False, "listener": None, "port": 0}


def listen():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", state["port"]))
    server.listen(64)
    server.setblocking(False)
    state["port"] = server.getsockname()[1]
    state["listener"] = server
    selector.register(server, selectors.EVENT_READ, "accept")


def close_pair(sock):
    other = pairs.pop(sock, None)
    for s in (sock, other):
        if s is None:
            continue
        pairs.pop(s, None)
        try:
            selector.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()


def pause(*_):
    state["paused"] = True
    if state["listener"] is not None:
        selector.unregister(state["listener"])
        state["listener"].close()
        state["listener"] = None
    for sock in list(pairs):
        close_pair(sock)


def resume(*_):
    state["paused"] = False
    if state["listener"] is None:
        listen()


# The parent may have spawned us with these blocked (the mask is inherited): unblock them.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1, signal.SIGUSR2})
signal.signal(signal.SIGUSR1, pause)
signal.signal(signal.SIGUSR2, resume)
listen()
print(f"listening {state['port']} {os.getpid()}", flush=True)
while True:
    try:
        events = selector.select(timeout=0.5)
    except InterruptedError:
        continue
    for key, _ in events:
        if key.data == "accept":
            if state["listener"] is None:
                continue
            try:
                client, _ = state["listener"].accept()
            except (BlockingIOError, OSError):
                continue
            try:
                upstream = socket.create_connection(target, timeout=5)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setblocking(False)
                selector.register(s, selectors.EVENT_READ, "data")
            pairs[client] = upstream
            pairs[upstream] = client
        else:
            sock = key.fileobj
            other = pairs.get(sock)
            if other is None:
                continue
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                close_pair(sock)
                continue
            try:
                other.setblocking(True)
                other.sendall(data)
                other.setblocking(False)
            except OSError:
                close_pair(sock)
