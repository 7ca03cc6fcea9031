"""convert's fold check compares the float model and its folded copy with the same attention arithmetic:
torch's fused transformer kernel (its inference fast path, taken on CUDA) rounds differently from the
layer-by-layer computation of the copy, which made the check refuse the reference ViT on a GPU."""

from __future__ import annotations

import pytest
import torch
from aimc.montecarlo.layers import convert
from torch import nn

from aimc.scheme import Scheme

SEEN: list[bool] = []
"""What every copy of _Recorder saw (convert runs copies of the model, never the model itself)."""


class _Recorder(nn.Module):
    """A float layer that records whether torch's attention fast path is enabled while it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        SEEN.append(torch.backends.mha.get_fastpath_enabled())
        return self.fc(x)


def test_the_fold_check_runs_without_the_fused_attention_kernel_and_restores_it():
    SEEN.clear()
    before = torch.backends.mha.get_fastpath_enabled()
    assert before is True  # torch's default: the check must be the one that turns it off
    convert(_Recorder().eval(), Scheme().with_overrides({"adc.bits": 0}), torch.randn(8, 4))
    assert SEEN and SEEN[0] is False  # the check's reference pass, the first forward of a copy...
    assert torch.backends.mha.get_fastpath_enabled() is before  # ...and the setting is restored after it


def test_the_fast_path_setting_is_restored_when_the_check_fails():
    class Broken(nn.Module):  # a model whose copy differs from it: the check refuses it
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 1)
            self.bn = nn.BatchNorm2d(2)
            self.bn.running_mean.fill_(3.0)

        def forward(self, x):
            return self.conv(x) + self.bn(self.conv(x))

    before = torch.backends.mha.get_fastpath_enabled()
    with pytest.raises(ValueError, match="folding changed"):
        convert(Broken().eval(), Scheme().with_overrides({"adc.bits": 0}), torch.randn(4, 1, 3, 3))
    assert torch.backends.mha.get_fastpath_enabled() is before
