"""A Forward client doing the shared-key handshake, for tests/forward_auth.rs.

Usage: forward_auth_client.py PORT KEY

Answers the server's HELO with a PING for KEY (hostname "client"), checks
the PONG's digest, then sends one Forward message of three records with a
chunk id. Prints "acked" once its ack comes back, or "refused: REASON" (exit
status 4) when the server refuses the handshake.
"""
import hashlib
import os
import socket
import sys

import msgpack

port, key = int(sys.argv[1]), sys.argv[2].encode()
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
unpacker = msgpack.Unpacker(raw=False)


def receive():
    while True:
        for msg in unpacker:
            return msg
        data = sock.recv(65536)
        if not data:
            sys.exit("closed by the server")
        unpacker.feed(data)


helo = receive()
assert helo[0] == "HELO", helo
nonce = helo[1]["nonce"]
nonce = nonce.encode() if isinstance(nonce, str) else nonce
salt = os.urandom(8).hex().encode()
digest = hashlib.sha512(salt + b"client" + nonce + key).hexdigest()
sock.sendall(msgpack.packb(["PING", "client", salt.decode(), digest, "", ""]))
pong = receive()
if not pong[1]:
    print(f"refused: {pong[2]}", flush=True)
    sys.exit(4)
expected = hashlib.sha512(salt + pong[3].encode() + nonce + key).hexdigest()
assert pong[4] == expected, "the server does not hold the key"
entries = [[1700000000 + i, {"log": f"auth {i} password=hunter2-{i}-xyzzy"}] for i in range(3)]
sock.sendall(msgpack.packb(["app", entries, {"chunk": "c1", "size": 3}]))
assert receive() == {"ack": "c1"}
print("acked", flush=True)
