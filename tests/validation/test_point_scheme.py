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


def test_design_e_factorial_varies_only_its_three_factors():
    """Every factorial point is the design-e preset with the offset removal, the SONOS fit (or ideal cells) and
    the ADC range rule changed, and the grid is complete: 2 x 2 x 3 with errors, 2 x 3 with ideal cells."""
    from itertools import product

    from aimc.presets import get_preset

    experiment = EXPERIMENTS["design-e-factorial"]
    preset = get_preset("design-e").to_dict()
    seen = set()
    for point in experiment.points:
        scheme = experiment.scheme(point)
        seen.add((scheme.mapping.offset, scheme.device.programming.model, scheme.adc.range))
        changed = {section for section in preset if scheme.to_dict()[section] != preset[section]}
        assert changed <= {"mapping", "device", "adc"}, point.label
        assert scheme.array.rows == 72 and scheme.weights.slices == 4 and scheme.inputs.accumulation == "digital"
    fits = ("sonos-paper", "sonos-2022", "none")
    assert seen == set(product(("unit_column", "digital"), fits, ("calibrated", "aligned", "granular")))


def test_parasitics_unit_column_is_parasitics_offset_with_a_unit_column():
    """Each point is the offset point of ``parasitics`` at the same rows and r, with only the offset's removal
    changed, so the two files compare the digital offset with the unit column under the same wires."""
    unit = EXPERIMENTS["parasitics-unit-column"]
    digital = EXPERIMENTS["parasitics"]
    offset_points = {p.label.removeprefix("offset "): p for p in digital.points if p.label.startswith("offset ")}
    assert len(unit.points) == len(offset_points) == 8
    for point in unit.points:
        scheme = unit.scheme(point).to_dict()
        reference = digital.scheme(offset_points[point.label.removeprefix("offset unit column ")]).to_dict()
        assert scheme["mapping"]["offset"] == "unit_column" and reference["mapping"]["offset"] == "digital"
        scheme["mapping"]["offset"] = reference["mapping"]["offset"]
        assert scheme == reference, point.label
