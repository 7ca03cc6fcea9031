"""convert() on the architectures beyond ResNet: MobileNetV2 (depthwise, inverted residuals), ResNeXt (grouped
3x3) and a vision transformer (patch convolution, class token, position embedding, nn.TransformerEncoder).

Each is built here from plain torch modules with random weights (CI has no torchvision). With ideal devices
the analog network, through every partition, weight slice and input slice (no ADC, or a granular ADC with
enough bits), must compute the 8-bit quantised digital network exactly; device errors must change it.
"""

from __future__ import annotations

import math

import pytest
import torch
from aimc.montecarlo.attention import ATTENTION_PRODUCTS, ProjectedAttention
from aimc.montecarlo.layers import AnalogConv2d, analog_layers, convert, unconverted_layers
from aimc.validation.accuracy import quantized_scheme
from torch import nn

from aimc.scheme import Scheme


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> list[nn.Module]:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU6()] if act else layers


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expansion (absent for ratio 1), depthwise 3x3, linear 1x1 projection."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = _conv_bn(cin, hidden, 1) if expand != 1 else []
        layers += _conv_bn(hidden, hidden, 3, stride, groups=hidden) + _conv_bn(hidden, cout, 1, act=False)
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2Like(nn.Module):
    def __init__(self, classes: int = 5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(*_conv_bn(3, 8, 3)),
            InvertedResidual(8, 8, 1, 1),
            InvertedResidual(8, 12, 2, 3),
            InvertedResidual(12, 12, 1, 3),
            nn.Sequential(*_conv_bn(12, 16, 1)),
        )
        self.classifier = nn.Linear(16, classes)

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


class ResNeXtBlock(nn.Module):
    """ResNeXt's bottleneck: 1x1, grouped 3x3 (cardinality 4), 1x1, projection shortcut."""

    def __init__(self, cin: int = 16, width: int = 16, cout: int = 32, groups: int = 4):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + self.downsample(x))


class ResNeXtLike(nn.Module):
    def __init__(self, classes: int = 5):
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn(3, 16, 3))
        self.block = ResNeXtBlock()
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        return self.fc(self.block(self.stem(x)).mean((2, 3)))


class ViTLike(nn.Module):
    """The layout of the reference ViT (``aimc.validation.models.VisionTransformer``), smaller."""

    def __init__(self, classes: int = 5, width: int = 16, layers: int = 2):
        super().__init__()
        self.patch = nn.Conv2d(3, width, kernel_size=4, stride=4)
        self.cls = nn.Parameter(0.5 * torch.randn(1, 1, width))
        self.pos = nn.Parameter(0.5 * torch.randn(1, 5, width))
        layer = nn.TransformerEncoderLayer(width, 2, 32, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], 1) + self.pos
        return self.head(self.norm(self.encoder(t))[:, 0])


ARCHITECTURES = {"mobilenetv2": MobileNetV2Like, "resnext": ResNeXtLike, "vit": ViTLike}


def _network(name: str) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = ARCHITECTURES[name]()
    for m in model.modules():  # non-trivial BatchNorm statistics: the folding must carry them
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval(), torch.randn(6, 3, 8, 8)


IDEAL = {"device.programming.model": "none", "device.programming.alpha": 0.0}
# (name, overrides, dtype): ideal cells through partitions (16 rows), weight slices and input slices
IDEAL_SCHEMES = {
    "differential-1b-slices-bit-serial": ({"weights.slices": 7, "inputs.slice_bits": 1, "adc.bits": 0,
                                           "device.on_off": 20.0}, torch.float64),
    "offset-unit-column-2b-slices-digital-acc": ({"mapping.kind": "offset", "mapping.offset": "unit_column",
                                                  "weights.slices": 4, "inputs.slice_bits": 1,
                                                  "inputs.accumulation": "digital", "array.columns": 4,
                                                  "adc.bits": 0, "device.on_off": 20.0}, torch.float64),
    "differential-granular-adc": ({"weights.slices": 7, "inputs.slice_bits": 1, "adc.bits": 12,
                                   "adc.range": "granular", "device.on_off": math.inf}, torch.float32),
}


def _general_path(analog: nn.Module) -> nn.Module:
    for layer in analog_layers(analog):
        layer.linear_fast_path = False  # the full signal path: partitions x weight slices x input slices
    return analog


@pytest.mark.parametrize("scheme_name", sorted(IDEAL_SCHEMES))
@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_ideal_analog_network_is_the_quantised_digital_network(name, scheme_name):
    model, data = _network(name)
    overrides, dtype = IDEAL_SCHEMES[scheme_name]
    scheme = Scheme().with_overrides({**IDEAL, "array.rows": 16, **overrides})
    digital = convert(model, quantized_scheme(scheme), data)
    analog = _general_path(convert(model, scheme, data, dtype=dtype))
    with torch.no_grad():
        want, got, ref = digital(data), analog(data), model(data)
    assert not any(layer.input_linear for layer in analog_layers(analog))
    # bit for bit: every layer's integer product is exact (float64 sums, or a granular ADC's levels)
    assert torch.equal(got, want), float((got - want).abs().max())
    # the quantised network is a close copy of the float one, not a constant
    assert float((want - ref).norm() / ref.norm()) < 0.1 and float(want.std()) > 0


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_device_errors_change_the_outputs(name):
    model, data = _network(name)
    scheme = Scheme().with_overrides({"device.programming.model": "state_independent",
                                      "device.programming.alpha": 0.02, "adc.bits": 0})
    with torch.no_grad():
        want = convert(model, quantized_scheme(scheme), data)(data)
        got = convert(model, scheme, data, seed=1)(data)
    relative = float((got - want).norm() / want.norm())
    assert 1e-3 < relative < 1.0


def test_grouped_convolutions_keep_their_groups_on_arrays_of_their_own():
    model, data = _network("mobilenetv2")
    scheme = Scheme().with_overrides({**IDEAL, "mapping.kind": "offset", "mapping.offset": "unit_column",
                                      "array.columns": 4, "array.rows": 16, "adc.bits": 0})
    analog = convert(model, scheme, data)
    depthwise = [m for m in analog_layers(analog) if isinstance(m, AnalogConv2d) and m.groups > 1]
    assert [m.groups for m in depthwise] == [8, 24, 36]
    for layer in depthwise:
        assert tuple(layer.w_int.shape) == (layer.out_channels, 9)  # fan-in per group: 1 channel x 3 x 3
        unit = layer.programmed.arrays["unit"]  # one unit column per group: a group's column is alone
        assert unit.shape[2] == layer.groups
    model, data = _network("resnext")
    block = analog_layers(convert(model, scheme, data))[2]
    assert block.name == "block.conv2" and block.groups == 4 and tuple(block.w_int.shape) == (16, 36)
    assert block.programmed.arrays["unit"].shape[2] == 4  # 4 outputs per group, 4 columns per array


GROUPED_FAST_CASES = {
    "differential-si": {"device.programming.model": "state_independent", "device.programming.alpha": 0.03},
    "offset-unit-column-sliced": {"mapping.kind": "offset", "mapping.offset": "unit_column", "weights.slices": 4,
                                  "array.columns": 4, "device.on_off": 10.0,
                                  "device.programming.model": "state_independent",
                                  "device.programming.alpha": 0.02},
}


@pytest.mark.parametrize("case", sorted(GROUPED_FAST_CASES))
def test_grouped_fast_path_equals_the_path_group_by_group(case):
    """The effective-weight grouped convolution gives what im2col group by group gives, on the same chip."""
    model, data = _network("mobilenetv2")
    scheme = Scheme().with_overrides({"adc.bits": 0, "array.rows": 16, **GROUPED_FAST_CASES[case]})
    analog = convert(model, scheme, data, seed=3, dtype=torch.float64)
    with torch.no_grad():
        fast = analog(data)
        general = _general_path(analog)(data)
    torch.testing.assert_close(fast, general, rtol=1e-9, atol=1e-9 * float(general.abs().max()))


def test_grouped_layer_with_an_adc_runs_im2col_per_group():
    model, data = _network("resnext")
    scheme = Scheme().with_overrides({**IDEAL, "adc.bits": 8, "adc.range": "calibrated", "array.rows": 16})
    analog = convert(model, scheme, data)
    layers = {m.name: m for m in analog_layers(analog)}
    with torch.no_grad():
        analog(data)
    assert layers["block.conv1"].conv_path_calls > 0  # groups = 1: the convolution-native path
    assert layers["block.conv2"].conv_path_calls == 0 and not layers["block.conv2"].conv_native


def test_vit_converts_whole_and_lists_what_stays_digital():
    model, data = _network("vit")
    analog = convert(model, Scheme().with_overrides({**IDEAL, "adc.bits": 0}), data)
    names = [m.name for m in analog_layers(analog)]
    projections = [f"encoder.layers.{i}.{p}" for i in (0, 1) for p in
                   ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                    "linear1", "linear2")]
    assert names == ["patch", *projections, "head"]
    assert all(m.signed_inputs for m in analog_layers(analog))  # after a LayerNorm, GELU or the attention
    assert all(isinstance(analog.encoder.layers[i].self_attn, ProjectedAttention) for i in (0, 1))
    listed = [str(d) for d in unconverted_layers(analog)]
    per_layer = [f"encoder.layers.{i}.{part}" for i in (0, 1)
                 for part in (f"self_attn: {ATTENTION_PRODUCTS}", "norm1: LayerNorm", "norm2: LayerNorm")]
    assert sorted(listed) == sorted(["cls: parameter [1, 1, 16]", "pos: parameter [1, 5, 16]",
                                     "norm: LayerNorm", *per_layer])
    assert [str(d) for d in unconverted_layers(model)] == listed  # the float model's list is the same


def test_cnns_list_nothing_digital_and_unfolded_batchnorm_is_listed():
    for name in ("mobilenetv2", "resnext"):
        model, data = _network(name)
        assert unconverted_layers(model) == []
        assert unconverted_layers(convert(model, Scheme().with_overrides({"adc.bits": 0}), data)) == []
    head = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Embedding(3, 4))
    assert [str(d) for d in unconverted_layers(head)] == ["1: BatchNorm1d", "2: Embedding"]


def test_bare_transformer_encoder_converts_whole():
    """The two-layer encoder whose out_proj replacement used to break the attention."""
    torch.manual_seed(1)
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2).eval()
    tokens = torch.randn(4, 6, 16)
    scheme = Scheme().with_overrides({**IDEAL, "adc.bits": 0, "array.rows": 8, "inputs.slice_bits": 1})
    digital = convert(encoder, quantized_scheme(scheme), tokens)
    analog = _general_path(convert(encoder, scheme, tokens, dtype=torch.float64))
    with torch.no_grad():
        torch.testing.assert_close(analog(tokens), digital(tokens), rtol=0, atol=1e-5)
        padding = torch.zeros(4, 6, dtype=torch.bool)
        padding[:, -2:] = True  # with a key padding mask: still the module path, never the fused kernel
        masked = analog(tokens, src_key_padding_mask=padding)
        torch.testing.assert_close(masked, digital(tokens, src_key_padding_mask=padding),
                                   rtol=0, atol=1e-5)


def test_unsupported_attention_is_refused_with_its_name():
    model = nn.Sequential(nn.Linear(8, 8))
    model.attention = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    with pytest.raises(ValueError, match="attention: .*add_bias_kv"):
        convert(model, Scheme().with_overrides({"adc.bits": 0}), torch.randn(2, 8))


def test_a_forward_that_reads_a_weight_itself_fails_with_a_clear_message():
    class Tied(nn.Module):  # a weight read in the forward, not through the module: cannot be mapped
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return nn.functional.linear(x, self.fc.weight)

    scheme = Scheme().with_overrides({"adc.bits": 6, "adc.range": "calibrated"})
    with pytest.raises(AttributeError, match="fc: an analog layer holds no float weight"):
        convert(Tied(), scheme, torch.randn(3, 4))
