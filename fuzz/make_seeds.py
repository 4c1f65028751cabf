#!/usr/bin/env python3
"""Writes the seed inputs of the forward, formats and compressed targets
into seeds/<target>/. Each seed starts with the byte the target reads as
its choice (read size, format, codec). Run from anywhere; needs the msgpack
package and the gzip, bzip2, xz and zstd commands."""
import gzip
import io
import os
import struct
import subprocess
import tarfile
import zlib

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
LOG = (
    b"2024-05-01T10:00:00Z INFO login user=alice@example.com password=hunter2hunter2\n"
    b"GET /api Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXZhbHVl\n"
    b"card 4111 1111 1111 1111 ok\n"
)
CRI = (
    b"2024-05-01T10:00:00.000000001Z stdout P password=hunt\n"
    b"2024-05-01T10:00:00.000000002Z stdout F er2hunter2 done\n"
    b"2024-05-01T10:00:01.000000000Z stderr F api_key=AKIAIOSFODNN7EXAMPLE\n"
)
DOCKER = (
    b'{"log":"token=ghp_abcdefghijklmnopqrstuvwxyz0123456789","stream":"stdout","time":"2024-05-01T10:00:00Z"}\n'
    b'{"log":"partial secret=abc","stream":"stderr","time":"2024-05-01T10:00:00Z"}\n'
    b'{"log":"def123456\\n","stream":"stderr","time":"2024-05-01T10:00:01Z"}\n'
)
JSON = (
    b'{"msg":"login","user":{"email":"bob@example.org","password":"s3cr3t!"},"n":[1,2,{"token":7}]}\n'
    b'{"msg":"escaped \\u0070assword=hunter2hunter2"}\n'
    b'not json password=x\n'
)
PEM = b"-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n"


def write(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def forward_seeds():
    t = msgpack.ExtType(0, (1714557600).to_bytes(4, "big") + (5).to_bytes(4, "big"))
    rec = {"log": "password=hunter2hunter2", "token": "abc", "nested": {"a": [1, b"bin Bearer abc.def.ghi"]}}
    entry = msgpack.packb([t, rec])
    seeds = {
        "message": ["app.log", 1714557600, rec],
        "message_option": ["app.log", t, rec, {"chunk": "c1"}],
        "forward": ["app.log", [[t, rec], [1714557601, {"msg": "card 4111111111111111"}]], {"chunk": "c2", "size": 2}],
        "packed": ["app.log", entry * 2, {"chunk": "c3"}],
        "compressed": ["app.log", gzip.compress(entry) + gzip.compress(entry), {"compressed": "gzip"}],
    }
    for name, value in seeds.items():
        # Read sizes 1 and 7: a message split everywhere.
        write("forward", name, b"\x06" + msgpack.packb(value) * 2)
    write("forward", "deep", b"\x00" + b"\x91" * 80 + b"\xc0")
    write("forward", "declared_too_long", b"\x00" + b"\xdb\xff\xff\xff\xff" + b"x" * 16)


def formats_seeds():
    # The first byte picks the format (byte % 5), the rules (byte / 5 % 2:
    # all, or those allowing a 1 KiB line limit) and the read size
    # (byte / 10 + 1).
    def pick(fmt, small, step):
        return fmt + 5 * (small + 2 * (step - 1))
    long_json = b'{"msg":"' + b"x" * 1500 + b' password=hunter2hunter2"}\n'
    for p, name, data in [(pick(0, 0, 1), "raw", LOG + PEM), (pick(1, 0, 4), "json", JSON),
                          (pick(2, 0, 11), "cri", CRI), (pick(3, 0, 1), "docker", DOCKER),
                          (pick(4, 0, 2), "auto", JSON + CRI + DOCKER + LOG),
                          (pick(1, 1, 7), "json_overlong", long_json + JSON),
                          (pick(2, 1, 3), "cri_overlong", CRI.replace(b"P password", b"P " + b"y" * 1100 + b" 10.1.2.3") + CRI),
                          (pick(0, 1, 5), "raw_pem", PEM + LOG)]:
        write("formats", name, bytes([p]) + data)


def compressed_seeds():
    # The first byte picks the codec (byte % 4) and the format (byte / 4 % 5).
    for pick, name, cmd in [(0, "gzip", ["gzip", "-c"]), (1, "zstd", ["zstd", "-q", "-c"]),
                            (2, "bzip2", ["bzip2", "-c"]), (3, "xz", ["xz", "-c"])]:
        packed = subprocess.run(cmd, input=LOG, capture_output=True, check=True).stdout
        write("compressed", name, bytes([pick]) + packed)
    write("compressed", "gzip_members_cri", bytes([0 + 4 * 2]) + gzip.compress(CRI) + gzip.compress(CRI))
    write("compressed", "gzip_bomb", bytes([0]) + gzip.compress(b"\0" * (4 << 20)))
    # Files whose copy may not be the original: free text in a later
    # member's header, a skippable frame between two frames of content.
    write("compressed", "gzip_member_comment", bytes([0]) + gzip_member(LOG) + gzip_member(CRI, b"free text"))
    zst = lambda data: subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
    skippable = struct.pack("<II", 0x184D2A50, 16) + b"password=hunter2"
    write("compressed", "zstd_frames_skippable", bytes([1]) + zst(LOG) + skippable + zst(CRI))


def gzip_member(data, comment=None):
    """One gzip member, with a comment in its header when given one."""
    head = bytes([0x1F, 0x8B, 8, 0x10 if comment else 0, 0, 0, 0, 0, 0, 3]) + (comment + b"\0" if comment else b"")
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return head + c.compress(data) + c.flush() + struct.pack("<II", zlib.crc32(data), len(data))


def archive_seeds():
    # Tar archives in each format Python writes, with a long name (a PAX
    # path or a GNU long-name entry), a directory, a link and a comment.
    for name, fmt in [("pax", tarfile.PAX_FORMAT), ("gnu", tarfile.GNU_FORMAT), ("ustar", tarfile.USTAR_FORMAT)]:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
            d = tarfile.TarInfo("logs")
            d.type = tarfile.DIRTYPE
            t.addfile(d)
            for member, data in [("logs/app.log", LOG), ("logs/" + "n" * (40 if fmt == tarfile.USTAR_FORMAT else 120) + ".log", CRI)]:
                info = tarfile.TarInfo(member)
                info.size = len(data)
                if fmt == tarfile.PAX_FORMAT:
                    info.pax_headers = {"comment": "password=hunter2"}
                t.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo("logs/current")
            link.type = tarfile.SYMTYPE
            link.linkname = "app.log"
            t.addfile(link)
        write("archive", name, buf.getvalue())


forward_seeds()
formats_seeds()
compressed_seeds()
archive_seeds()
