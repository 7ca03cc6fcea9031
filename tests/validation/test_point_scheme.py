"""point_scheme: one experiment point's scheme by name (the benchmarks' --configs / --point)."""

import pytest
from aimc.validation.experiments import EXPERIMENTS, point_scheme


def test_point_scheme_is_the_points_scheme():
    exp = EXPERIMENTS["adc-rows"]
    point = next(p for p in exp.points if p.label == "offset-2b rows=144")
    scheme = point_scheme("adc-rows/offset-2b rows=144")
    assert scheme == exp.scheme(point)
    assert scheme.array.rows == 144 and scheme.weights.slices == 4 and scheme.mapping.kind == "offset"


@pytest.mark.parametrize("spec, field", [("nope/x", "unknown experiment 'nope'"),
                                         ("adc-rows/offset rows=7", "has no point 'offset rows=7'")])
def test_unknown_names_are_refused_with_what_is_allowed(spec, field):
    with pytest.raises(ValueError, match=field) as info:
        point_scheme(spec)
    assert "allowed:" in str(info.value)
