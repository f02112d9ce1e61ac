"""A lab's own driver package on disk, declared by entry points as an installed package is
(a `*.dist-info` directory with `entry_points.txt`): put its directory on sys.path and the rig
finds the driver, and the simulated bench its dialect, without any list of ours being edited."""

from __future__ import annotations

from pathlib import Path

DRIVER = '''
from rig.instruments.fluke6105a import Fluke6105A
from rig.instruments.loadpoint import normalise_angle


class LabFluke(Fluke6105A):
    """A lab's 6105A driver that sends current angles on the voltage scale (wrong for the
    6105A, docs/dialects.md 1): what the applied-load check exists to catch."""

    @staticmethod
    def current_angle(s):
        return normalise_angle(s.current_angle)
'''

ENTRY_POINTS = """[meter_test_rig.drivers]
lab_fluke = labfluke:LabFluke

[meter_test_rig.sim_dialects]
lab_fluke = rig.sim.dialects.fluke:Fluke6105A
"""


def write_lab_package(where: Path, entry_points: str = ENTRY_POINTS) -> Path:
    """Write the package under `where` (its `entry_points.txt` as given); return the directory
    to put on sys.path."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "labfluke.py").write_text(DRIVER, encoding="utf-8")
    info = where / "labfluke-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: labfluke\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")
    return where
