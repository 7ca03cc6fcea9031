"""The packed-weights format used to carry models to the GPU machine restores the exact bytes."""

from __future__ import annotations

import numpy as np
import pytest
from aimc.validation.carry import main, pack_bytes, unpack_bytes


@pytest.mark.parametrize("length", [0, 1, 7, 4096, 10_003])
def test_round_trip_is_exact(length):
    rng = np.random.default_rng(length)
    raw = (rng.standard_normal(length // 4 + 1).astype(np.float32).tobytes() + b"tail")[:length]
    assert unpack_bytes(pack_bytes(raw)) == raw


def test_planes_compress_float_weights_better_than_plain_xz():
    import lzma

    raw = (np.random.default_rng(0).standard_normal(200_000) * 0.02).astype(np.float32).tobytes()
    assert len(pack_bytes(raw)) < 0.95 * len(lzma.compress(raw))


def test_corruption_and_wrong_files_are_refused(tmp_path):
    packed = bytearray(pack_bytes(b"abcdefgh" * 100))
    with pytest.raises(ValueError, match="bad magic"):
        unpack_bytes(b"not packed at all")
    packed[-20] ^= 0xFF
    with pytest.raises((ValueError, Exception)):
        unpack_bytes(bytes(packed))
    src = tmp_path / "w.bin"
    src.write_bytes(b"\x00\x01" * 999)
    assert main(["pack", str(src), str(tmp_path / "w.xzs")]) == 0
    assert main(["unpack", str(tmp_path / "w.xzs"), str(tmp_path / "back.bin")]) == 0
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    assert main(["unpack", str(src), str(tmp_path / "x")]) == 2
    assert main(["pack", str(tmp_path / "missing"), str(tmp_path / "y")]) == 2
