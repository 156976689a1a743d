import os

import pytest
import torch

from tests.helpers import gaussian_posterior_problem, train_tiny

# CI has 2 cores; OMP_NUM_THREADS=1 lets the suite share a machine with a training run.
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))

#: The devices the device-parametrised tests run on: the CPU always, CUDA where a GPU is visible
#: (deepinv's test suite does the same), so a GPU machine runs the same assertions on both.
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope="session")
def tiny_prior_file(tmp_path_factory):
    """A tiny PaDIS prior trained for a few seconds on 8 phantoms (64 px)."""
    return train_tiny(tmp_path_factory.mktemp("prior") / "tiny.safetensors")


@pytest.fixture(scope="session")
def gaussian_problem():
    """A Gaussian prior, a 3x3 blur with noise 0.05 and the exact posterior mean and standard deviations."""
    return gaussian_posterior_problem()
