import os

import pytest
import torch

from tests.helpers import train_tiny

# CI has 2 cores; OMP_NUM_THREADS=1 lets the suite share a machine with a training run.
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session")
def tiny_prior_file(tmp_path_factory):
    """A tiny PaDIS prior trained for a few seconds on 8 phantoms (64 px)."""
    return train_tiny(tmp_path_factory.mktemp("prior") / "tiny.safetensors")
