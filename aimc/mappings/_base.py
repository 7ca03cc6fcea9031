"""The protocol every signed-weight mapping implements (see :mod:`aimc.mappings`).

A mapping says how an integer weight w in [-M, M] (M = 2^(B_w-1) - 1) becomes non-negative codes on one or
more physical arrays, how the arrays are read into ADC conversions, and how the digital side recombines the
conversions into w x. Everything else (bit slicing, conductances, the signal path, the theory's
derivations, the Monte Carlo's draws) is generic over these few primitives:

* :meth:`SignedMapping.codes`: the non-negative integer code of every weight on every per-weight array
  (sliced in base 2^b by :mod:`aimc.mapping`); :meth:`SignedMapping.shared_codes`: the code of arrays with
  one column per group of ``array.columns`` outputs (the offset mapping's unit column);
* :meth:`SignedMapping.conversions`: what one ADC converts, as a signed sum of array currents read
  together in analog (a differential pair with analog subtraction is one conversion of g+ - g-), and the
  conversion's sign in the digital sum;
* :meth:`SignedMapping.significance`, :attr:`SignedMapping.digit_weight`, :meth:`SignedMapping.offset`:
  the digital recombination y = sum_k significance_k digit_weight D_k - offset sum_i x_i, with D_k the
  digit-unit value of weight slice k (exactly w x for ideal cells and ADC).

A conversion reads either per-weight arrays or shared arrays, never both.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import torch

    from aimc.scheme import Mapping, Weights

__all__ = ["Conversion", "SignedMapping"]


@dataclass(frozen=True)
class Conversion:
    """One ADC conversion per output (or per column group, for shared arrays), weight slice and input slice.

    ``reads``: (array name, coefficient) pairs whose currents are summed in analog before the ADC;
    ``sign``: the conversion's sign in the digital recombination.
    """

    reads: tuple[tuple[str, float], ...]
    sign: float = 1.0

    @property
    def arrays(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.reads)

    @property
    def signed(self) -> bool:
        """Whether the converted signal can be negative for non-negative inputs (analog subtraction)."""
        return any(coefficient < 0 for _, coefficient in self.reads)

    @property
    def pedestal(self) -> float:
        """sign x sum of coefficients: the multiple of g_min sum_i x_i this conversion carries into the sum."""
        return self.sign * sum(coefficient for _, coefficient in self.reads)


class SignedMapping(abc.ABC):
    """A signed-weight mapping: a few primitives, from which :mod:`aimc.mapping` derives the rest."""

    name: ClassVar[str]
    """The value of ``mapping.kind`` that selects this mapping."""
    description: ClassVar[str]
    """One paragraph: the encoding and where it comes from (shown in ``mapping.kind``'s documentation)."""
    digit_weight: ClassVar[Fraction] = Fraction(1)
    """Weight units per unit of the recombined digit sum (1/2 for a two-sided pair, whose d+ - d- is 2w)."""

    @abc.abstractmethod
    def largest_code(self, weight_bits: int) -> int:
        """The largest code any array holds (M for a one-sided magnitude, 2M for w + M, 2^B - 1 for a B-bit code)."""

    def encoded_bits(self, weight_bits: int) -> int:
        """Bits the weight slices hold: the bit length of :meth:`largest_code`."""
        return self.largest_code(weight_bits).bit_length()

    @abc.abstractmethod
    def arrays(self, mapping: Mapping) -> tuple[str, ...]:
        """The per-weight physical arrays of one weight slice, in programming order."""

    def shared_arrays(self, mapping: Mapping) -> tuple[str, ...]:
        """Arrays with one column per group of ``array.columns`` outputs (default none)."""
        return ()

    @abc.abstractmethod
    def conversions(self, mapping: Mapping) -> tuple[Conversion, ...]:
        """The conversions of one output and weight slice, as the hardware reads them."""

    @abc.abstractmethod
    def codes(self, w_int: torch.Tensor, weight_bits: int) -> dict[str, torch.Tensor]:
        """The non-negative integer code of every weight on each per-weight array (int64, shape of ``w_int``),
        a torch tensor or a numpy array as ``w_int`` is (:mod:`aimc._arrays`)."""

    def shared_codes(self, mapping: Mapping, weight_bits: int) -> dict[str, int]:
        """The code held by every cell of each shared array (default none)."""
        return {}

    def significance(self, weight_bits: int, slices: int, bits_per_slice: int) -> tuple[int, ...]:
        """Digital weight of each slice's digits: 2^(b k) (the shift-and-add), unless the encoding says otherwise."""
        return tuple(1 << (bits_per_slice * k) for k in range(slices))

    def offset(self, mapping: Mapping, weight_bits: int) -> int:
        """The integer subtracted digitally per unit of sum_i x_i after recombination (default 0)."""
        return 0

    def check(self, mapping: Mapping, weights: Weights) -> None:
        """Rules of this mapping across fields; raise :class:`aimc.ConfigError` naming the field (default none)."""

    def label(self, mapping: Mapping) -> str:
        """A short human-readable name of the mapping with its options (plots, tables)."""
        return self.name
