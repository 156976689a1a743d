import os

import pytest
import torch

# CI has 2 cores; OMP_NUM_THREADS=1 lets the suite share a machine with a training run.
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)
