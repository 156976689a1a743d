import importlib

import pytest


@pytest.mark.parametrize("module", ["invsolve", "invsolve.data", "invsolve.operators", "invsolve.solvers"])
def test_public_names_resolve(module):
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which does not exist"
