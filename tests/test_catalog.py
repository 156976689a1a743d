"""The shared names: one definition, matching the registries, and cheap to import."""

import subprocess
import sys

from invsolve import catalog
from invsolve.operators import PRESETS
from invsolve.priors import NETWORK_SIZES
from invsolve.priors.checkpoint import BUNDLED_DIR
from invsolve.solvers import SOLVERS


def test_the_catalog_lists_exactly_the_built_in_registries():
    assert list(PRESETS) == list(catalog.PRESET_DOMAINS)
    assert {name: p.domain for name, p in PRESETS.items()} == catalog.PRESET_DOMAINS
    assert set(SOLVERS) == set(catalog.SOLVER_NAMES)
    assert [SOLVERS[name].needs_prior for name in catalog.SOLVER_NAMES] == [
        name in catalog.DIFFUSION_SOLVERS for name in catalog.SOLVER_NAMES
    ]
    assert tuple(NETWORK_SIZES) == catalog.NETWORK_SIZE_NAMES
    assert sorted(p.stem for p in BUNDLED_DIR.glob("*.safetensors")) == sorted(catalog.BUNDLED_PRIORS)


def test_the_command_line_parser_loads_neither_torch_nor_deepinv():
    code = (
        "import sys, invsolve.cli; invsolve.cli.build_parser().parse_args(['reconstruct', '--op', 'ct8']); "
        "print(sorted(m for m in ('torch', 'deepinv', 'odl', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
