"""Signed-weight mappings, one module each, and their registry :data:`MAPPINGS`.

``mapping.kind`` names one of them. Each implements the protocol of :class:`SignedMapping` (a few
primitives: the codes on each array, how the arrays are converted, the digital recombination);
:mod:`aimc.mapping` derives the slice layout, digits and conductances from them, :mod:`aimc.pipeline`
the signal path, :mod:`aimc.theory` the moments and :mod:`aimc.montecarlo` the simulation. A new mapping is
one module here, listed below; the conformance suite then checks it, theory against Monte Carlo.
"""

from __future__ import annotations

from aimc._fields import UnknownName

from ._base import Conversion, SignedMapping
from .differential import Differential
from .offset import Offset
from .ones_complement import OnesComplement
from .two_sided import TwoSided
from .twos_complement import TwosComplement

__all__ = ["MAPPINGS", "Conversion", "SignedMapping", "get_mapping"]

MAPPINGS: dict[str, SignedMapping] = {
    m.name: m for m in (Differential(), TwoSided(), Offset(), TwosComplement(), OnesComplement())
}


def get_mapping(name: str) -> SignedMapping:
    """The registered mapping ``name`` (``mapping.kind``); KeyError listing the known names."""
    try:
        return MAPPINGS[name]
    except KeyError:
        raise UnknownName(f"mapping.kind: unknown mapping {name!r}; allowed: {', '.join(MAPPINGS)}") from None
