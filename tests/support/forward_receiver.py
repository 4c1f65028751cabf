"""A Forward aggregator for tests/serve.rs: decodes with the msgpack library,
appends each record's "log" to OUT, then acks the chunk.

Usage: forward_receiver.py PORT OUT [DIE_AFTER | stall | stall-after:N]

With TLS_CERT and TLS_KEY set, it speaks TLS with that certificate; with
SHARED_KEY set, it requires the Forward shared-key handshake.

With DIE_AFTER, the process exits (without writing or acking) when the
DIE_AFTER-th message arrives, as a crashed aggregator would. With `stall`,
the first message is neither written nor acked and the connection is kept
open, as a hung aggregator would, until the sender gives up on it; with
`stall-after:N`, the first N messages are written and acked and none after
them. A record
is written only together with its ack, so an unacked message leaves no
trace.
"""
import hashlib
import os
import socket
import sys

import msgpack

port, out = int(sys.argv[1]), sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else None
stall = mode == "stall"
stall_after = int(mode.split(":")[1]) if mode and mode.startswith("stall-after:") else None
die_after = int(mode) if mode and not stall and stall_after is None else None

# With TLS_CERT and TLS_KEY in the environment, connections speak TLS.
tls = None
if os.environ.get("TLS_CERT"):
    import ssl

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])

# With SHARED_KEY in the environment, each connection starts with the
# shared-key handshake (HELO, PING, PONG) as Fluentd's in_forward does it.
shared_key = os.environ.get("SHARED_KEY", "").encode()


def handshake(conn, unpacker):
    nonce = os.urandom(16)
    conn.sendall(msgpack.packb(["HELO", {"nonce": nonce, "auth": "", "keepalive": True}], use_bin_type=True))
    while True:
        data = conn.recv(65536)
        if not data:
            return False
        unpacker.feed(data)
        for ping in unpacker:
            _, host, salt, digest, _, _ = ping
            salt = salt.encode() if isinstance(salt, str) else salt
            want = hashlib.sha512(salt + host.encode() + nonce + shared_key).hexdigest()
            if digest != want:
                conn.sendall(msgpack.packb(["PONG", False, "shared_key mismatch", "", ""]))
                return False
            mine = hashlib.sha512(salt + b"receiver" + nonce + shared_key).hexdigest()
            conn.sendall(msgpack.packb(["PONG", True, "", "receiver", mine]))
            return True


def serve(conn, unpacker):
    """Writes and acks the messages of one connection until it closes."""
    global seen
    while True:
        data = conn.recv(65536)
        if not data:
            return
        unpacker.feed(data)
        for msg in unpacker:
            seen += 1
            if die_after is not None and seen >= die_after:
                os._exit(3)
            if stall and seen == 1 or stall_after is not None and seen > stall_after:
                continue
            tag, entries, option = msg
            for _time, record in entries:
                f.write(record["log"] + "\n")
            f.flush()
            conn.sendall(msgpack.packb({"ack": option["chunk"]}))


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
print("listening", flush=True)
seen = 0
with open(out, "a", encoding="utf-8") as f:
    while True:
        conn, _ = srv.accept()
        if tls is not None:
            try:
                conn = tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                continue
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        try:
            if not shared_key or handshake(conn, unpacker):
                serve(conn, unpacker)
        except OSError:
            # A sender killed mid-stream resets the connection: what it
            # sent unacked is sent again on its next connection.
            pass
        conn.close()
