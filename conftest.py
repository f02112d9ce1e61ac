"""Root conftest: registers the rig's pytest plugin (options --bench, --plan, ...).

`pytest` alone runs the project's tests (tests/); `pytest testplans` runs the type test.
The plugin is also an entry point (`pytest11`), for plans kept outside this repository.
"""

pytest_plugins = ["rig.pytest_plugin"]
