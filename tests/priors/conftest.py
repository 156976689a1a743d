import pytest

from invsolve.priors import TrainingConfig, train

TINY_RUN = dict(net="tiny", image_size=64, patch_sizes=(16, 8), patch_probs=(0.6, 0.4), max_images=8, batch=8,
                lr=1e-3, seed=3)


def train_tiny(out, duration="320", **changes):
    return train(TrainingConfig(out=str(out), duration=duration, command="test", **(TINY_RUN | changes)),
                 progress=False)


@pytest.fixture(scope="session")
def tiny_prior_file(tmp_path_factory):
    """A tiny PaDIS prior trained for a few seconds on 8 phantoms (64 px)."""
    return train_tiny(tmp_path_factory.mktemp("prior") / "tiny.safetensors")
