"""A Forward aggregator for tests/serve.rs: decodes with the msgpack library,
appends each record's "log" to OUT, then acks the chunk.

Usage: forward_receiver.py PORT OUT [DIE_AFTER | stall]

With TLS_CERT and TLS_KEY set, it speaks TLS with that certificate.

With DIE_AFTER, the process exits (without writing or acking) when the
DIE_AFTER-th message arrives, as a crashed aggregator would. With `stall`,
the first message is neither written nor acked and the connection is kept
open, as a hung aggregator would, until the sender gives up on it. A record
is written only together with its ack, so an unacked message leaves no
trace.
"""
import os
import socket
import sys

import msgpack

port, out = int(sys.argv[1]), sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else None
stall = mode == "stall"
die_after = int(mode) if mode and not stall else None

# With TLS_CERT and TLS_KEY in the environment, connections speak TLS.
tls = None
if os.environ.get("TLS_CERT"):
    import ssl

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])

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
        while True:
            data = conn.recv(65536)
            if not data:
                break
            unpacker.feed(data)
            for msg in unpacker:
                seen += 1
                if die_after is not None and seen >= die_after:
                    os._exit(3)
                if stall and seen == 1:
                    continue
                tag, entries, option = msg
                for _time, record in entries:
                    f.write(record["log"] + "\n")
                f.flush()
                conn.sendall(msgpack.packb({"ack": option["chunk"]}))
        conn.close()
