"""Pack model weights small enough to travel to the GPU machine, and unpack them there, losslessly.

The device tool carries at most 64 MiB per call (repository included); a ResNet-50 state dict is 46 MiB
and the Tiny-ImageNet test zip another 20 MiB. Float32 weights compress poorly as they are (xz: -10 %),
much better with their bytes split into four planes first (the exponent plane is highly redundant:
-15 %). ``pack`` writes the byte planes xz-compressed; ``unpack`` restores the exact original bytes
(checked against the SHA-256 stored in the packed file).

    python -m aimc.validation.carry pack ../shared/models/resnet50_tinyimagenet.pt .carry/tiny/resnet50_tinyimagenet.pt.xzs
    python -m aimc.validation.carry unpack .carry/tiny/resnet50_tinyimagenet.pt.xzs /tmp/shared/models/resnet50_tinyimagenet.pt
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import struct
import sys
from pathlib import Path

import numpy as np

MAGIC = b"AIMCXZS1"
PLANES = 4


def pack_bytes(raw: bytes, preset: int = 6) -> bytes:
    """``raw`` as MAGIC | length | sha256 | xz(byte planes of the 4-byte-aligned part + the tail)."""
    n = len(raw) - len(raw) % PLANES
    planes = np.frombuffer(raw, dtype=np.uint8, count=n).reshape(-1, PLANES).T.tobytes()
    body = lzma.compress(planes + raw[n:], preset=preset)
    return MAGIC + struct.pack("<Q", len(raw)) + hashlib.sha256(raw).digest() + body


def unpack_bytes(packed: bytes) -> bytes:
    """The exact bytes given to :func:`pack_bytes` (ValueError if the data are not a packed file or corrupt)."""
    if packed[: len(MAGIC)] != MAGIC:
        raise ValueError("not a packed file (bad magic): expected output of `carry pack`")
    head = len(MAGIC)
    (length,) = struct.unpack("<Q", packed[head : head + 8])
    digest = packed[head + 8 : head + 40]
    data = lzma.decompress(packed[head + 40 :])
    if len(data) != length:
        raise ValueError(f"packed file: {len(data)} bytes after decompression, expected {length}")
    n = length - length % PLANES
    raw = np.frombuffer(data, dtype=np.uint8, count=n).reshape(PLANES, -1).T.tobytes() + data[n:]
    if hashlib.sha256(raw).digest() != digest:
        raise ValueError("packed file: SHA-256 mismatch after unpacking (corrupt file)")
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aimc.validation.carry", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("pack", "unpack"))
    parser.add_argument("source")
    parser.add_argument("destination")
    args = parser.parse_args(argv)
    src, dst = Path(args.source), Path(args.destination)
    if not src.is_file():
        print(f"carry: error: {src} not found", file=sys.stderr)
        return 2
    try:
        out = pack_bytes(src.read_bytes()) if args.command == "pack" else unpack_bytes(src.read_bytes())
    except ValueError as e:
        print(f"carry: error: {src}: {e}", file=sys.stderr)
        return 2
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    tmp.write_bytes(out)
    tmp.replace(dst)
    print(f"{args.command}: {src} ({src.stat().st_size} bytes) -> {dst} ({len(out)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
