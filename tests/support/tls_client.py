"""A TLS client of `logscrub serve`, for tests/tls.rs.

Usage: tls_client.py tcp|bulk|forward PORT CA [CERT KEY]

tcp: sends three lines, each with a planted secret, and closes.
bulk: sends 50,000 such lines (3 MB) and closes at once, never reading.
forward: sends one Forward-mode message of three records with a chunk id
and prints "acked" once its ack comes back.
With CERT and KEY, it presents that client certificate. A failed handshake
exits with status 3.
"""
import socket
import ssl
import sys

import msgpack

mode, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
if len(sys.argv) > 5:
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    sock = ctx.wrap_socket(raw, server_hostname="localhost")
    if mode == "bulk":
        sock.sendall(b"".join(b"bulk %d password=hunter2-%d-xyzzy\n" % (i, i) for i in range(50000)))
    elif mode == "tcp":
        # (A TLS 1.3 server refuses a client certificate after the client's
        # side of the handshake is done: that shows on the server only.)
        sock.sendall(b"".join(b"tls %d password=hunter2-%d-xyzzy\n" % (i, i) for i in range(3)))
    else:
        entries = [[1700000000 + i, {"log": f"fwd {i} password=hunter2-{i}-xyzzy"}] for i in range(3)]
        sock.sendall(msgpack.packb(["app", entries, {"chunk": "c1", "size": 3}]))
        ack = msgpack.unpackb(sock.recv(4096), raw=False)
        assert ack == {"ack": "c1"}, ack
        print("acked", flush=True)
    sock.close()
except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
    print(f"handshake failed: {type(e).__name__}", file=sys.stderr)
    sys.exit(3)
