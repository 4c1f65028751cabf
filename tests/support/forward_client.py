"""Sends records to a Forward input the ways real clients do, for tests/serve.rs.

Usage: forward_client.py PORT COUNT

1. COUNT records through the fluent-logger library (Message mode);
2. one Forward-mode message with a chunk id, waiting for its ack;
3. one CompressedPackedForward message (two gzip members), waiting for its ack.
Every record's "log" says which path it took and carries a planted secret.
Prints "acked 2" when both acks came back.
"""
import gzip
import socket
import sys
import time

import msgpack
from fluent import sender

port, count = int(sys.argv[1]), int(sys.argv[2])

logger = sender.FluentSender("app", host="127.0.0.1", port=port, nanosecond_precision=True)
for i in range(count):
    ok = logger.emit("lib", {"log": f"lib {i} password=hunter2-{i}-xyzzy", "api_key": f"k-{i}", "n": i})
    if not ok:
        sys.exit(f"fluent-logger failed: {logger.last_error}")
logger.close()


def ack_of(sock):
    unpacker = msgpack.Unpacker(raw=False)
    while True:
        data = sock.recv(4096)
        if not data:
            sys.exit("closed before the ack")
        unpacker.feed(data)
        for obj in unpacker:
            return obj["ack"]


now = int(time.time())
sock = socket.create_connection(("127.0.0.1", port))
entries = [[now, {"log": f"fwd {i} token=Bearer abcdefghij{i:06d}klmnopqrst"}] for i in range(10)]
sock.sendall(msgpack.packb(["app.fwd", entries, {"chunk": "c1", "size": 10}]))
acks = [ack_of(sock)]

packed = b"".join(msgpack.packb([now, {"log": f"gz {i} postgres://app:s3cr3t-{i}@db/x"}]) for i in range(10))
half = len(packed) // 2
body = gzip.compress(packed[:half]) + gzip.compress(packed[half:])
sock.sendall(msgpack.packb(["app.gz", body, {"chunk": "c2", "compressed": "gzip", "size": 10}], use_bin_type=True))
acks.append(ack_of(sock))
sock.close()
assert acks == ["c1", "c2"], acks
print("acked", len(acks))
