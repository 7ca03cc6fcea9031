"""Named schemes: the paper's designs, the prior accelerators of its Table 1, and published devices.

Each preset is a set of overrides on the default :class:`~aimc.Scheme`, with a description that states
where every number comes from and which choices are assumptions (the paper's full text was not
available; see ``shared/PAPER.md``). Presets are data, not code paths: ``aimc show NAME --json`` prints
the full configuration, and any field can be changed with ``--set``.

Defaults common to the accelerator presets unless stated: 8-bit weights and activations, 1-bit input
slices with digital accumulation, a calibrated ADC range, ideal devices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .devices import DEVICE_LAWS
from .mappings import get_mapping
from .scheme import Scheme

__all__ = ["NOT_REPRESENTED", "PRESETS", "Preset", "get_preset", "preset_names"]


@dataclass(frozen=True)
class Preset:
    name: str
    group: str
    description: str
    overrides: dict = field(default_factory=dict)

    def scheme(self) -> Scheme:
        return Scheme().with_overrides(self.overrides)


_SONOS = {
    "device.on_off": "1e7",
    "device.programming.model": "sonos-paper",
    "device.programming.alpha": 1.0,
}
_DESIGN_A = {
    "mapping.kind": "differential",
    "weights.bits": 8,
    "weights.slices": 1,
    "inputs.bits": 8,
    "inputs.slice_bits": 1,
    "inputs.accumulation": "analog",
    "array.rows": 1152,
    "adc.bits": 8,
    "adc.range": "calibrated",
    **_SONOS,
}
_BIT_SERIAL_DIGITAL = {"inputs.slice_bits": 1, "inputs.accumulation": "digital"}


def _accelerator(
    mapping: str, bits_per_cell: int | None, rows: int, adc_bits: int, fpg: bool, offset: str = "digital"
) -> dict:
    """Overrides for a Table-1 design: 8-bit weights, the mapping's code split into cells of
    ``bits_per_cell`` bits (None: unsliced), the offset removed as ``offset`` says."""
    out = dict(_BIT_SERIAL_DIGITAL)
    out["array.rows"] = rows
    out["adc.bits"] = adc_bits
    out["adc.range"] = "granular" if fpg else "calibrated"
    out["mapping.kind"] = mapping
    out["mapping.offset"] = offset
    encoded = get_mapping(mapping).encoded_bits(8)
    out["weights.slices"] = 1 if bits_per_cell is None else -(-encoded // bits_per_cell)
    return out


_PRESETS = [
    Preset(
        "design-a",
        "paper design",
        "Paper design A (Tables 3-5): differential one-sided cells, 7-bit magnitude unsliced, 1152 rows, 8-bit "
        "inputs in 1-bit slices with analog accumulation, 8-bit calibrated ADC, SONOS programming error "
        "(paper-era fit, Imax 1.6 uA). Assumption: On/Off 1e7 (subthreshold SONOS; the paper's value is "
        "not available).",
        _DESIGN_A,
    ),
    Preset(
        "design-b",
        "paper design",
        "Paper design B: design A with 1-bit weight slices (7 slices of the 7 magnitude bits; the paper's "
        "slice count for B is not available: 1 bit per cell is what it states).",
        {**_DESIGN_A, "weights.slices": 7},
    ),
    Preset(
        "design-c",
        "paper design",
        "Paper design C: design A with 144-row arrays.",
        {**_DESIGN_A, "array.rows": 144},
    ),
    Preset(
        "design-e",
        "paper design",
        "Paper design E: offset subtraction, 2 bits per cell (8-bit u = w + M in four 2-bit slices), 72 rows, "
        "ADC per input bit (digital accumulation), 8-bit calibrated ADC, SONOS programming error. "
        "Assumption: the offset is removed with an analog unit column (the paper-era CrossSim default, "
        "digital_offset = False); set mapping.offset=digital for the alternative. The inner-percentile range "
        "puts the ADC levels between the 2-bit cells' signal levels (chance accuracy even with ideal cells); "
        "set adc.range=aligned for the paper's bit-sliced rule (digital accuracy with ideal cells). With SONOS "
        "errors the unit column is what collapses it on the CIFAR-10 ResNet-50: the same cells with "
        "mapping.offset=digital keep most of its accuracy (experiment design-e-factorial, not yet run to the end).",
        {
            **_DESIGN_A,
            **_BIT_SERIAL_DIGITAL,
            "mapping.kind": "offset",
            "mapping.offset": "unit_column",
            "weights.slices": 4,
            "array.rows": 72,
        },
    ),
    Preset(
        "isaac",
        "Table 1",
        "ISAAC (Shafiee et al., ISCA 2016) per the paper's Table 1: 2 b/cell slices, full precision, offset "
        "(unit column), 128 rows, 8-bit ADC (granular).",
        _accelerator("offset", 2, 128, 8, True, "unit_column"),
    ),
    Preset(
        "newton",
        "Table 1",
        "Newton (Nag et al., IEEE Micro 2018): as ISAAC in the paper's Table 1.",
        _accelerator("offset", 2, 128, 8, True, "unit_column"),
    ),
    Preset(
        "puma",
        "Table 1",
        "PUMA (Ankit et al., ASPLOS 2019): 2 b/cell, full precision, offset, 128 rows, 8-bit ADC.",
        _accelerator("offset", 2, 128, 8, True, "unit_column"),
    ),
    Preset(
        "genov",
        "Table 1",
        "Genov et al. (the paper's ref. 21) per its Table 1: one's-complement weights, 1 b/cell (the 8-bit "
        "code in eight 1-bit slices, the top slice weighing -127), 128 rows, 6-bit ADC, not full precision "
        "(calibrated).",
        _accelerator("ones_complement", 1, 128, 6, False),
    ),
    Preset(
        "boltzmann",
        "Table 1",
        "Memristive Boltzmann Machine (the paper's ref. 9; Bojnordi and Ipek, HPCA 2016) per its Table 1: "
        "two's-complement weights, 1 b/cell (the 8-bit code in eight 1-bit slices, the top slice weighing "
        "-128), 32 rows, 5-bit ADC, full precision (granular).",
        _accelerator("twos_complement", 1, 32, 5, True),
    ),
    Preset(
        "prime",
        "Table 1",
        "PRIME (Chi et al., ISCA 2016): 4 b/cell slices (7 magnitude bits in two 4-bit slices: the top slice "
        "is under-used), differential, 256 rows, 6-bit ADC, not full precision (calibrated).",
        _accelerator("differential", 4, 256, 6, False),
    ),
    Preset(
        "dot-product-engine",
        "Table 1",
        "Dot-Product Engine (Hu et al., DAC 2016): unsliced, offset, 128 rows, 4-bit ADC, not full precision.",
        _accelerator("offset", None, 128, 4, False, "unit_column"),
    ),
    Preset(
        "sparse-reram-engine",
        "Table 1",
        "Sparse ReRAM Engine (Yang et al., ISCA 2019): 2 b/cell, full precision, offset, 16 rows, 6-bit ADC.",
        _accelerator("offset", 2, 16, 6, True, "unit_column"),
    ),
    Preset(
        "marinella",
        "Table 1",
        "Marinella et al. (JETCAS 2018): unsliced, differential, 1024 rows, 8-bit ADC, not full precision.",
        _accelerator("differential", None, 1024, 8, False),
    ),
    Preset(
        "joshi",
        "Table 1",
        "Joshi et al. (Nat. Commun. 2020): unsliced, differential, 512 rows, 8-bit ADC, with the PCM-Joshi "
        "programming error (On/Off 100).",
        {
            **_accelerator("differential", None, 512, 8, False),
            "device.on_off": "100",
            "device.programming.model": "pcm-joshi",
            "device.programming.alpha": 1.0,
        },
    ),
    Preset(
        "yao",
        "Table 1",
        "Yao et al. (Nature 2020, experimental): unsliced, differential, 128 rows, 8-bit ADC.",
        _accelerator("differential", None, 128, 8, False),
    ),
    Preset(
        "guo",
        "Table 1",
        "Guo et al. (experimental): unsliced, differential, 784 rows, analog output (no ADC).",
        {**_accelerator("differential", None, 784, 8, False), "adc.bits": 0},
    ),
]

for _name, _law in DEVICE_LAWS.items():
    if _name.endswith("-read"):
        continue
    _over = {
        "device.on_off": repr(_law.on_off) if _law.on_off != float("inf") else "inf",
        "device.programming.model": _name,
        "device.programming.alpha": 1.0,
    }
    if _law.read_noise:
        _over["device.read_noise.model"] = _law.read_noise
        _over["device.read_noise.alpha"] = 1.0
    _PRESETS.append(
        Preset(
            _name,
            "device",
            f"The default scheme (differential, unsliced, 1152 rows, bit-serial inputs with analog "
            f"accumulation, 8-bit calibrated ADC) with the {_name} device: {_law.description} Source: {_law.source}.",
            _over,
        )
    )

PRESETS: dict[str, Preset] = {p.name: p for p in _PRESETS}

NOT_REPRESENTED: dict[str, str] = {
    "design-d": "Design D of the paper (25.8 fJ/op, 74.1 %) is not described in any available source; "
    "it is not invented here.",
    "cascade": "CASCADE's negative-weight scheme is not stated in the paper's Table 1; not invented here.",
    "timely": "TIMELY's negative-weight scheme is not stated in the paper's Table 1 (inputs are pulse-encoded); "
    "not invented here.",
    "forms": "FORMS retrains the network so that every column has one sign; aimc maps arbitrary signed weights.",
}


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str) -> Scheme:
    """The scheme of preset ``name``; a clear error for an unknown or unrepresentable name."""
    if name in PRESETS:
        return PRESETS[name].scheme()
    if name in NOT_REPRESENTED:
        raise ValueError(f"preset {name!r} is not available: {NOT_REPRESENTED[name]}")
    raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
