"""A Forward aggregator for tests/serve.rs: decodes with the msgpack library,
appends each record's "log" to OUT, then acks the chunk.

Usage: forward_receiver.py PORT OUT [DIE_AFTER | stall]

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

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
print("listening", flush=True)
seen = 0
with open(out, "a", encoding="utf-8") as f:
    while True:
        conn, _ = srv.accept()
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
