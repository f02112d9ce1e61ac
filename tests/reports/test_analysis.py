import pytest

from reports.analysis import describe_point, margin, pf_label, pf_sort_key
from reports.benchinfo import parse_bench


@pytest.mark.parametrize(
    ("pf", "label"),
    [("1", "1"), (1, "1"), (1.0, "1"), ("0.5L", "0.5L"), ("0.5 ind", "0.5L"),
     ("0.5i", "0.5L"), ("0.8C", "0.8C"), ("0.8 cap", "0.8C"), (0.5, "0.5L"), (-0.8, "0.8C"),
     ("0.25 lag", "0.25L"), (None, "")],
)
def test_pf_labels(pf, label):
    assert pf_label(pf) == label


def test_pf_order_is_unity_then_inductive_then_capacitive():
    labels = ["0.8C", "0.5L", "1", "0.25L"]
    assert sorted(labels, key=pf_sort_key) == ["1", "0.5L", "0.25L", "0.8C"]


def test_point_description():
    text = describe_point({"load": 0.05, "pf": "0.5 ind", "direction": "import",
                           "element": "L2", "influence": {"quantity": "voltage",
                                                          "value": 1.1}, "n": 3})
    assert text == "0.05 In, PF 0.5L, import, L2, voltage 1.1, n 3"


def test_margin_to_the_nearest_limit():
    assert margin(0.4, -0.5, 0.5) == pytest.approx(0.1)
    assert margin(0.7, -0.5, 0.5) == pytest.approx(-0.2)
    assert margin(3, None, 1) == -2


def test_bench_file_instruments_in_several_shapes():
    listed = parse_bench("""
lab: L
bench: {name: B}
instruments:
  - role: source
    type: MTE PPS 400.3
    serial_number: S-1
    cal_date: 2026-01-01
    uncertainty: 0.05 %
    extra: yes
""")
    assert listed.lab == "L" and listed.name == "B"
    (src,) = listed.instruments
    assert src.role == "source"
    assert src.fields == {"model": "MTE PPS 400.3", "serial": "S-1",
                          "calibration": "2026-01-01", "uncertainty": "0.05 %"}
    assert src.other == {"extra": "True"}
    top = parse_bench("name: X\nsource: {resource: 'TCPIP::1::SOCKET', serial: A}\n"
                      "timebase: virtual\n")
    assert [i.role for i in top.instruments] == ["source"]
    assert parse_bench("").problem and parse_bench("- a\n- b\n").problem
    assert "not valid YAML" in parse_bench("a: [\n").problem
