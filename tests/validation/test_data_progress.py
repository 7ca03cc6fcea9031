"""load_images shows its decoding bar only for many images, and never when asked for no progress bar
(``--no-progress`` reaches it through load_network)."""

import pytest
import torch
from aimc.validation import data


class _Images:
    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int):
        return torch.zeros(3, 2, 2, dtype=torch.uint8), index % 3


@pytest.mark.parametrize("progress, shown", [(True, True), (False, False)])
def test_the_decoding_bar_follows_progress(capsys, progress, shown):
    images, labels = data.load_images(_Images(data.PROGRESS_THRESHOLD + 1), progress=progress)
    assert images.shape == (data.PROGRESS_THRESHOLD + 1, 3, 2, 2) and labels[:3].tolist() == [0, 1, 2]
    assert ("decoding images" in capsys.readouterr().err) == shown


def test_a_few_images_decode_without_a_bar(capsys):
    data.load_images(_Images(3))
    assert "decoding images" not in capsys.readouterr().err


class _Stop(Exception):
    pass


@pytest.mark.parametrize("argv, progress", [(["accuracy", "--no-progress"], False), (["accuracy"], True)])
def test_no_progress_reaches_the_decoding_bar(monkeypatch, argv, progress):
    """aimc accuracy [--no-progress] loads the reference network with the bar off [on]."""
    from aimc.validation import accuracy

    from aimc.cli import main

    asked = []

    def record(dataset, indices=None, progress=True):
        asked.append(progress)
        raise _Stop

    monkeypatch.setattr(accuracy, "load_images", record)
    with pytest.raises(_Stop):
        main([*argv, "--no-save", "--images", "4"])
    assert asked == [progress]
