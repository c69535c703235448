#!/usr/bin/env python3
"""Send a MongoDB `ping` over the wire protocol (OP_MSG), stdlib only.

Usage: mongo_ping.py HOST PORT [TIMEOUT_SECONDS]
Exit 0 if the server answered {ok: 1}, 1 otherwise. Used by
scripts/servers.sh so that it works before pymongo is installed.
"""
from __future__ import annotations

import socket
import struct
import sys

OP_MSG = 2013


def _cstring(s: str) -> bytes:
    return s.encode() + b"\x00"


def _bson_ping() -> bytes:
    body = (
        b"\x10" + _cstring("ping") + struct.pack("<i", 1)
        + b"\x02" + _cstring("$db") + struct.pack("<i", len("admin") + 1) + _cstring("admin")
        + b"\x00"
    )
    return struct.pack("<i", len(body) + 4) + body


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def _ok(doc: bytes) -> bool:
    # Walk the top-level elements of the reply document looking for "ok".
    sizes = {1: 8, 7: 12, 8: 1, 9: 8, 10: 0, 16: 4, 17: 8, 18: 8, 19: 16}
    i = 4
    while i < len(doc) - 1:
        etype = doc[i]
        end = doc.index(b"\x00", i + 1)
        name = doc[i + 1:end].decode(errors="replace")
        i = end + 1
        if name == "ok":
            if etype == 1:
                return struct.unpack_from("<d", doc, i)[0] == 1.0
            if etype in (16, 18):
                fmt = "<i" if etype == 16 else "<q"
                return struct.unpack_from(fmt, doc, i)[0] == 1
            if etype == 8:
                return doc[i] == 1
            return False
        if etype in sizes:
            i += sizes[etype]
        elif etype in (2, 13, 14):  # string, js code, symbol
            i += 4 + struct.unpack_from("<i", doc, i)[0]
        elif etype in (3, 4):  # document, array
            i += struct.unpack_from("<i", doc, i)[0]
        elif etype == 5:  # binary
            i += 5 + struct.unpack_from("<i", doc, i)[0]
        elif etype == 11:  # regex: two cstrings
            i = doc.index(b"\x00", doc.index(b"\x00", i) + 1) + 1
        else:
            return False
    return False


def ping(host: str, port: int, timeout: float) -> bool:
    payload = struct.pack("<I", 0) + b"\x00" + _bson_ping()
    header = struct.pack("<iiii", 16 + len(payload), 1, 0, OP_MSG)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(header + payload)
        length, _req, _resp, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
        body = _recv_exact(sock, length - 16)
    if opcode != OP_MSG or len(body) < 5 or body[4] != 0:
        return False
    return _ok(body[5:])


def main() -> int:
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 27017
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    try:
        return 0 if ping(host, port, timeout) else 1
    except (OSError, ValueError, struct.error):
        return 1


if __name__ == "__main__":
    sys.exit(main())
