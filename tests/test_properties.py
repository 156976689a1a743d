"""Property-based checks of the entry points (hypothesis, derandomized so every run tries the same
examples): arguments of the wrong type, range, dtype or shape end in InvsolveError and nothing else;
valid ones round-trip."""

import copy
import math
import tomllib
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invsolve import InvsolveError, make_operator, reconstruct
from invsolve.benchmarks.suite import build_suite
from invsolve.priors import load, read_checkpoint
from invsolve.priors.checkpoint import write_checkpoint
from invsolve.solvers import SOLVERS, get_solver
from invsolve.solvers.settings import GENERIC, TunedRow, TunedTable, read_tuned
from invsolve.validation import check_image

#: Bounded budgets: the whole file runs in well under a minute on two cores.
FEW = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=120, deadline=None, derandomize=True)

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(0, 9), max_size=3),
    st.tuples(st.floats(-5, 5), st.floats(-5, 5)),
)


def refused_or_fine(call):
    """Run ``call``; an InvsolveError is a refusal, any other exception fails the property."""
    try:
        return call()
    except InvsolveError as error:
        assert "\n" not in str(error)
        return None


OPERATOR_OPTIONS = {
    "ct8": ("views", "detector_bins", "noise"),
    "deblur": ("kernel_size", "noise"),
    "sr4": ("factor", "noise"),
}


@FEW
@given(op=st.sampled_from(sorted(OPERATOR_OPTIONS)), data=st.data())
def test_make_operator_refuses_bad_options_in_one_line_and_keeps_good_ones(op, data):
    option = data.draw(st.sampled_from(OPERATOR_OPTIONS[op]))
    value = data.draw(st.one_of(anything, st.integers(1, 24), st.floats(0, 0.5)))
    built = refused_or_fine(lambda: make_operator(op, 32, **{option: value}))
    if built is not None and value is not None:  # what was asked for is what was built (noise in float32)
        assert math.isclose(built.describe()[option], value, rel_tol=1e-6 if option == "noise" else 0)


@FEW
@given(
    argument=st.sampled_from(["image_size", "noise", "window", "seed", "solver", "op"]),
    value=anything,
)
def test_reconstruct_refuses_arguments_of_the_wrong_kind_in_one_line(argument, value):
    call = {"op": "ct8", "solver": "baseline", "image_size": 64} | {argument: value}
    if argument == "image_size" and isinstance(value, int) and not 8 <= value <= 96:
        return  # a valid but large or tiny size is a different (slow or refused) case
    if argument == "noise" and isinstance(value, int | float) and not isinstance(value, bool) and value > 1:
        return
    refused_or_fine(lambda: reconstruct(**call))


@SOME
@given(solver=st.sampled_from(sorted(SOLVERS)), data=st.data())
def test_solver_settings_are_refused_in_one_line_or_taken_as_given(solver, data):
    name = data.draw(st.sampled_from([*GENERIC[solver], "zeta", "bogus"]))
    value = data.draw(anything)
    settings_ = refused_or_fine(lambda: get_solver(solver).complete(**{name: value}))
    if settings_ is not None and value is not None:
        assert settings_[name] == value


@SOME
@given(
    dtype=st.sampled_from([torch.uint8, torch.int64, torch.float16, torch.float32, torch.float64, torch.bool]),
    low=st.floats(-3, 3),
    span=st.floats(0, 300),
    special=st.sampled_from([None, math.nan, math.inf]),
)
def test_images_must_be_finite_floats_in_the_unit_range(dtype, low, span, special):
    image = torch.linspace(low, low + span, 16).reshape(1, 4, 4)
    if special is not None:
        image[0, 0, 0] = special
    image = image.to(dtype) if dtype.is_floating_point or special is None else image.nan_to_num().to(dtype)
    accepted = refused_or_fine(lambda: check_image("image", image, "test") or True)
    in_range = image.is_floating_point() and bool(torch.isfinite(image).all()) and 0 <= image.min() <= image.max() <= 1
    assert bool(accepted) == in_range


@SOME
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["dds", "dps", "diffpir", "admm-tv"]),
            st.sampled_from(["ct20", "ct8", "deblur", "sr4"]),
            st.integers(1, 500),
            st.floats(1e-6, 1e3, allow_nan=False),
        ),
        max_size=6,
    )
)
def test_a_tuned_table_round_trips_through_its_file(tmp_path_factory, rows):
    table = TunedTable(())
    for solver, preset, steps, weight in rows:
        settings_ = {"iterations": steps, "lam": weight} if solver == "admm-tv" else {"steps": steps}
        prior = None if solver == "admm-tv" else "padis"
        table = table.with_row(TunedRow(solver, preset, prior, settings_, "docs/logs/x.txt"))
    path = tmp_path_factory.mktemp("tuned") / "tuned.toml"
    path.write_text(table.toml())
    assert read_tuned(path) == table


CONFIG_FIELDS = ["kind", "objective", "image_size", "sigma_min", "sigma_max", "patch_size", "pad", "network"]


@FEW
@given(
    field=st.sampled_from([*CONFIG_FIELDS, "network.size", "network.sigma_data", "network.channels"]), value=anything
)
def test_a_damaged_checkpoint_config_is_refused_in_one_line(tiny_prior_file, tmp_path_factory, field, value):
    config, tensors = read_checkpoint(tiny_prior_file)
    top, _, inner = field.partition(".")
    config = config | ({top: config[top] | {inner: value}} if inner else {top: value})
    path = tmp_path_factory.mktemp("damaged") / "prior.safetensors"
    write_checkpoint(path, tensors, config)
    refused_or_fine(lambda: load(path))


MINI_SUITE = tomllib.loads((Path(__file__).parents[1] / "benchmarks" / "mini.toml").read_text())
SUITE_FIELDS = [
    "suite.name",
    "suite.image_size",
    "suite.count",
    "suite.seeds",
    "suite.plugins",
    "datasets.phantoms",
    "tasks.ct8.op",
    "tasks.ct8.options",
    "tasks.ct8.paper",
    "methods.padis.solver",
    "methods.padis.prior",
    "methods.padis.settings",
    "methods.padis.task_settings",
    "methods.admm-tv.label",
]


@SOME
@given(field=st.sampled_from(SUITE_FIELDS), value=st.one_of(anything, st.dictionaries(st.text(max_size=4), anything)))
def test_a_damaged_suite_is_refused_in_one_line(field, value):
    raw = copy.deepcopy(MINI_SUITE)
    *parents, last = field.split(".")
    node = raw
    for part in parents:
        node = node[part]
    node[last] = value
    refused_or_fine(lambda: build_suite(raw))


@SOME
@given(
    image_size=st.integers(4, 128).map(lambda k: 4 * k),  # room for the 9x9 blur, a multiple of the sr factor
    count=st.integers(1, 100),
    seeds=st.lists(st.integers(0, 2**31), min_size=1, max_size=4),
    views=st.integers(1, 64),
    steps=st.integers(1, 500),
    zeta=st.floats(0, 10),
)
def test_a_valid_suite_is_read_as_written(image_size, count, seeds, views, steps, zeta):
    raw = copy.deepcopy(MINI_SUITE)
    raw["suite"] |= {"image_size": image_size, "count": count, "seeds": seeds}
    raw["tasks"]["ct8"]["options"] = {"views": views}
    raw["methods"]["padis"] |= {"solver": "dps", "prior": "padis-ct", "settings": {"steps": steps, "zeta": zeta}}
    suite = build_suite(raw)
    assert (suite.image_size, suite.count, suite.seeds) == (image_size, count, tuple(seeds))
    assert suite.tasks["ct8"].options == {"views": views}
    assert suite.methods["padis"].settings_for(suite.tasks["ct8"]) == {"steps": steps, "zeta": zeta}
    assert build_suite(suite.raw) == suite
