"""Checkpoint files round-trip bit-exactly and refuse truncated, corrupted or foreign files."""

import re

import pytest
import torch
from safetensors.torch import save_file

from invsolve.errors import InvsolveError
from invsolve.priors import PatchPrior, WholeImagePrior, load, read_checkpoint
from invsolve.priors.checkpoint import write_checkpoint


def test_round_trip_reproduces_outputs_bit_exactly(tiny_prior_file, tmp_path):
    prior = load(tiny_prior_file)
    assert isinstance(prior, PatchPrior) and prior.patch_size == 16 and prior.image_size == 64
    config, _ = read_checkpoint(tiny_prior_file)
    copy = tmp_path / "copy.safetensors"
    write_checkpoint(copy, prior.network.state_dict(), config)
    x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    outputs = [p(x, 0.7, generator=torch.Generator().manual_seed(5)) for p in (prior, load(copy))]
    assert torch.equal(*outputs)
    assert config["kind"] == "padis" and config["network"]["positional"] and config["data"]["source"] == "phantoms"
    for key in ("objective", "network", "patch_size", "training_pad", "sigma_min", "sigma_max", "command", "versions"):
        assert key in config
    assert config["network"]["preconditioning"] == "edm" and config["network"]["sigma_data"] == 0.5
    assert prior.config == config and prior.network.sigma_data == 0.5


def test_loading_uses_every_loaded_field(tiny_prior_file, tmp_path):
    """sigma_data, the sigma range and the patch grid a file records are the ones the prior runs with."""
    config, tensors = read_checkpoint(tiny_prior_file)
    changed = tmp_path / "changed.safetensors"
    network = config["network"] | {"sigma_data": 0.3}
    write_checkpoint(changed, tensors, config | {"network": network, "sigma_max": 5.0, "patch_size": 8, "pad": 3})
    prior, original = load(changed), load(tiny_prior_file)
    assert (prior.network.sigma_data, prior.sigma_max, prior.patch_size, prior.pad) == (0.3, 5.0, 8, 3)
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    same_grid = load(changed, patch_size=16, pad=None)
    assert not torch.allclose(
        same_grid(x, 0.7, generator=torch.Generator().manual_seed(5)),
        original(x, 0.7, generator=torch.Generator().manual_seed(5)),
    )
    assert load(tiny_prior_file, precision="bf16").network.precision == "bf16"


def test_unknown_fields_are_refused_in_one_line(tiny_prior_file, tmp_path):
    config, tensors = read_checkpoint(tiny_prior_file)
    for extra, name in (
        ({"ema_decay": 0.99}, "ema_decay"),
        ({"network": config["network"] | {"heads": 4}}, "network.heads"),
    ):
        write_checkpoint(tmp_path / "extra.safetensors", tensors, config | extra)
        with pytest.raises(InvsolveError, match=f"does not know: {re.escape(name)} ") as caught:
            load(tmp_path / "extra.safetensors")
        assert "\n" not in str(caught.value)


def test_a_format_1_file_loads_as_it_did(tiny_prior_file, tmp_path, monkeypatch):
    """Files written before the network carried sigma_data (format 1) load through the upgrade."""
    from invsolve.priors import checkpoint

    config, tensors = read_checkpoint(tiny_prior_file)
    old = {k: v for k, v in config.items() if k != "objective"}
    old |= {"network": {k: v for k, v in config["network"].items() if k not in ("preconditioning", "sigma_data")}}
    old |= {"sigma_data": 0.5, "channels": 1, "positional_encoding": True}
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 1)
    write_checkpoint(tmp_path / "old.safetensors", tensors, old)
    monkeypatch.undo()
    assert read_checkpoint(tmp_path / "old.safetensors")[0] == config
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    loaded = [
        load(path)(x, 0.7, generator=torch.Generator().manual_seed(5))
        for path in (tiny_prior_file, tmp_path / "old.safetensors")
    ]
    assert torch.equal(*loaded)


def test_load_options_switch_on_the_ablations(tiny_prior_file):
    prior = load(tiny_prior_file, random_shift=False, positional_encoding=False, patch_size=8, max_batch=4)
    assert (prior.random_shift, prior.positional_encoding, prior.patch_size, prior.max_batch) == (False, False, 8, 4)


def corrupt(path, tmp_path, edit):
    data = bytearray(path.read_bytes())
    edit(data)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(data))
    return bad


def test_a_flipped_byte_is_refused(tiny_prior_file, tmp_path):
    def flip_last(data):
        data[-5] ^= 0xFF

    with pytest.raises(InvsolveError, match="corrupted"):
        load(corrupt(tiny_prior_file, tmp_path, flip_last))


def test_a_truncated_file_is_refused(tiny_prior_file, tmp_path):
    data = tiny_prior_file.read_bytes()
    for length in (len(data) - 100, 1000, 4):
        (tmp_path / "cut.safetensors").write_bytes(data[:length])
        with pytest.raises(InvsolveError, match=r"corrupted|truncated|not a safetensors"):
            load(tmp_path / "cut.safetensors")


def test_foreign_and_mismatched_files_are_refused(tiny_prior_file, tmp_path):
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, foreign)
    with pytest.raises(InvsolveError, match="not an invsolve checkpoint"):
        load(foreign)
    pickle_file = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(3)}, pickle_file)
    with pytest.raises(InvsolveError, match="not a safetensors"):
        load(pickle_file)
    config, tensors = read_checkpoint(tiny_prior_file)
    write_checkpoint(
        tmp_path / "mismatch.safetensors", tensors, config | {"network": config["network"] | {"size": "small"}}
    )
    with pytest.raises(InvsolveError, match="do not match its network config"):
        load(tmp_path / "mismatch.safetensors")
    state = tiny_prior_file.with_name(tiny_prior_file.stem + ".state.safetensors")
    with pytest.raises(InvsolveError, match="training-state file"):
        load(state)
    with pytest.raises(InvsolveError, match="does not exist"):
        load(tmp_path / "missing.safetensors")


def test_whole_image_prior_round_trip(tmp_path):
    from tests.helpers import train_tiny

    out = train_tiny(
        tmp_path / "whole.safetensors", duration="16", prior="whole", batch=2, data="photos", image_size=24, channels=3
    )
    prior = load(out)
    assert isinstance(prior, WholeImagePrior) and not prior.network.positional and prior.channels == 3
    x = torch.rand(1, 3, 24, 24)
    assert torch.equal(prior(x, 0.5), load(out)(x, 0.5))


@pytest.mark.parametrize(
    "name,kind,data,channels",
    [
        ("padis-ct", "padis", "phantoms", 1),
        ("whole-ct", "whole", "phantoms", 1),
        ("padis-photo", "padis", "photos", 3),
        ("whole-photo", "whole", "photos", 3),
    ],
)
def test_bundled_priors_load_by_name_and_record_their_training(name, kind, data, channels):
    prior = load(name)
    config = prior.config
    assert (config["kind"], config["image_size"], config["network"]["channels"], config["data"]["source"]) == (
        kind,
        128,
        channels,
        data,
    )
    assert config["command"].startswith(f"invsolve train --prior {kind} --data {data} --image-size 128 --net small")
    assert config["training"]["seconds"] <= 90 * 60 + 5 and config["training"]["device"] == "cpu"
    assert config["training"]["duration"] == "90m"  # every pair had the same budget, the most the issue allows


def _without(config, dotted):
    top, _, inner = dotted.partition(".")
    if inner:
        return config | {top: {k: v for k, v in config[top].items() if k != inner}}
    return {k: v for k, v in config.items() if k != top}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: _without(c, "image_size"), "field image_size is missing"),
        (lambda c: c | {"image_size": "64"}, "field image_size is '64'; expected an integer"),
        (lambda c: c | {"sigma_min": -1.0}, "field sigma_min is -1.0"),
        (lambda c: c | {"sigma_max": "big"}, "field sigma_max is 'big'"),
        (lambda c: c | {"sigma_max": 0.001}, "sigma_max must exceed sigma_min"),
        (lambda c: c | {"network": [1, 2]}, "field network is [1, 2]"),
        (lambda c: _without(c, "network.channels"), "field network.channels is missing"),
        (lambda c: c | {"network": c["network"] | {"size": "huge"}}, "field network.size is 'huge'"),
        (lambda c: c | {"network": c["network"] | {"positional": 1}}, "field network.positional is 1"),
        (lambda c: c | {"patch_size": 0}, "field patch_size is 0"),
        (lambda c: c | {"pad": -3}, "field pad is -3"),
        (lambda c: c | {"kind": "gan"}, "unknown prior kind 'gan'"),
        (lambda c: c | {"objective": "flow"}, "field objective is 'flow'; expected 'edm'"),
        (lambda c: c | {"network": c["network"] | {"sigma_data": 0}}, "field network.sigma_data is 0"),
        (lambda c: c | {"network": c["network"] | {"preconditioning": "vp"}}, "field network.preconditioning is 'vp'"),
    ],
)
def test_damaged_checkpoint_configs_are_named_in_one_short_line(tiny_prior_file, tmp_path, change, message):
    config, tensors = read_checkpoint(tiny_prior_file)
    write_checkpoint(tmp_path / "damaged.safetensors", tensors, change(config))
    with pytest.raises(InvsolveError, match=re.escape(message)) as caught:
        load(tmp_path / "damaged.safetensors")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_weights_of_another_network_get_a_short_summary(tiny_prior_file, tmp_path):
    config, tensors = read_checkpoint(tiny_prior_file)
    write_checkpoint(tmp_path / "m.safetensors", tensors, config | {"network": config["network"] | {"size": "small"}})
    with pytest.raises(InvsolveError, match=r"do not match its network config: \d+ missing") as caught:
        load(tmp_path / "m.safetensors")
    assert len(str(caught.value)) < 200
    fewer = {k: v for i, (k, v) in enumerate(tensors.items()) if i}
    write_checkpoint(tmp_path / "f.safetensors", fewer, config)
    with pytest.raises(InvsolveError, match=r"1 missing \(e\.g\. "):
        load(tmp_path / "f.safetensors")


def test_the_config_schema_admits_exactly_the_kinds_sizes_and_preconditioning_the_code_has():
    from typing import get_args

    from invsolve.catalog import PRIOR_KINDS
    from invsolve.priors.config_schema import NetworkConfig, PriorConfig
    from invsolve.priors.network import NETWORK_SIZES, PRECONDITIONING
    from invsolve.priors.objectives import OBJECTIVES

    assert get_args(PriorConfig.model_fields["kind"].annotation) == PRIOR_KINDS
    assert get_args(NetworkConfig.model_fields["size"].annotation) == tuple(NETWORK_SIZES)
    # a network's preconditioning is named after the objective it was trained with, EDM's first
    assert get_args(NetworkConfig.model_fields["preconditioning"].annotation) == OBJECTIVES
    assert get_args(PriorConfig.model_fields["objective"].annotation) == OBJECTIVES
    assert OBJECTIVES[0] == PRECONDITIONING
