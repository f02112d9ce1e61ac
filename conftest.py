"""Root conftest: makes the repository importable for the tests.

The rig's pytest plugin (options --bench, --plan, ...) is registered here once
the type-test plans land; until then this file only anchors the rootdir.
"""
