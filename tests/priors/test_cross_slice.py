"""Cross-slice priors: a patch network that reads a slice with its neighbours (stacked as channels)
and denoises the middle one, trained on stacks of neighbouring training slices of a volume."""

import pytest
import torch

from invsolve.data import headct
from invsolve.errors import InvsolveError
from invsolve.priors import PatchPrior, load
from invsolve.priors.network import EDMNetwork, middle_slice
from invsolve.priors.objectives import edm_loss
from invsolve.solvers.loop import CountedPrior, neighbour_stacks
from tests.helpers import train_tiny


def test_neighbour_stacks_put_each_slice_between_its_neighbours_mirrored_at_the_ends():
    volume = torch.arange(4.0).reshape(1, 1, 4, 1, 1).expand(1, 1, 4, 2, 2)
    stacks = neighbour_stacks(volume, 3)
    assert stacks.shape == (1, 3, 4, 2, 2)
    assert stacks[0, :, :, 0, 0].T.tolist() == [[1, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 2]]
    assert stacks[0, :, :, 0, 0].T.tolist() == neighbour_stacks(volume, 3)[0, :, :, 1, 1].T.tolist()
    with pytest.raises(InvsolveError, match="at least 2 slices"):
        neighbour_stacks(volume[:, :, :1], 3)


def test_a_network_over_an_even_number_of_slices_is_refused():
    with pytest.raises(InvsolveError, match="odd"):
        EDMNetwork(1, "tiny", slices=2)


def test_the_loss_of_a_cross_slice_network_scores_the_middle_slice():
    """A network that answers the clean middle slice has zero loss; one that answers a neighbour does not."""
    clean = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))

    def answering(slice_index):
        return lambda noisy, sigma, positions: clean[:, slice_index : slice_index + 1]

    loss = {
        i: edm_loss(answering(i), clean, None, torch.Generator(), sigma_data=0.5, autocast=False, slices=3)
        for i in range(3)
    }
    assert loss[1] == 0 and loss[0] > 0 and loss[2] > 0
    assert torch.equal(middle_slice(clean, 3), clean[:, 1:2])


def test_a_cross_slice_prior_blind_to_its_neighbours_denoises_a_volume_as_the_2d_prior(tiny_prior_file):
    """The 2D network's weights in a three-slice network, the neighbours' input weights zero: the
    volume's denoised slices are the 2D prior's, so the middle slice sits where the network reads it.
    Compared on one fixed grid, inside the patches that hold no border (whose noise is drawn per
    channel, so differs between a one- and a three-channel canvas)."""
    flat = load(tiny_prior_file)
    blind = EDMNetwork(1, "tiny", positional=True, resolution=flat.network.resolution, slices=3)
    weights = flat.network.state_dict()
    for name, weight in blind.state_dict().items():
        if weight.shape == weights[name].shape:
            weight.copy_(weights[name])
        else:  # the first convolution: inputs (slice z-1, z, z+1, two position channels)
            weight.zero_()
            weight[:, 1] = weights[name][:, 0]
            weight[:, 3:] = weights[name][:, 1:]
    size, patch = flat.image_size, flat.patch_size
    fixed = PatchPrior(flat.network, size, patch, random_shift=False)
    across = PatchPrior(blind, size, patch, random_shift=False)
    first = patch - fixed.grid(size).pad  # the first patch that starts inside the image
    inner = slice(first, first + (size - first) // patch * patch)  # the patches wholly inside
    volume = torch.rand(1, 1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    denoised = {
        name: CountedPrior(prior).denoise(volume, 0.3, torch.Generator().manual_seed(1))
        for name, prior in (("flat", fixed), ("across", across))
    }
    assert denoised["across"].shape == volume.shape
    inside = (..., inner, inner)
    torch.testing.assert_close(denoised["across"][inside], denoised["flat"][inside], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(denoised["across"], volume, atol=1e-2)
    assert "3 neighbouring slices" in across.describe()


def test_a_cross_slice_prior_refuses_a_2d_image_and_always_couples_a_volumes_slices(tiny_prior_file):
    from invsolve.tasks import couples_slices

    flat = load(tiny_prior_file)
    across = PatchPrior(EDMNetwork(1, "tiny", resolution=16, slices=3), 64, 16)
    assert couples_slices("dds", {"tv_weight": 0.0}, across) and not couples_slices("dds", {"tv_weight": 0.0}, flat)
    with pytest.raises(InvsolveError, match="reconstructs volumes"):
        CountedPrior(across).denoise(torch.rand(1, 1, 64, 64), 0.3)
    with pytest.raises(InvsolveError, match=r"\(B, 3, H, W\) \(3 neighbouring slices"):
        across(torch.rand(1, 1, 64, 64), 0.3)
    assert flat.slices == 1


def test_training_a_cross_slice_prior_needs_a_volume(tmp_path):
    with pytest.raises(InvsolveError, match="neighbouring slices of a volume"):
        train_tiny(tmp_path / "p.safetensors", slices=3)
    with pytest.raises(InvsolveError, match="odd"):
        train_tiny(tmp_path / "p.safetensors", slices=2)


@pytest.mark.skipif(not headct.DEFAULT_PATH.is_file(), reason=f"`{headct.INSTALL_COMMAND}` provides the head CT")
def test_a_cross_slice_prior_trains_on_stacks_of_training_slices_and_round_trips(tmp_path):
    """Every stack's slices are training slices, so held-out slices keep the split's gap to all the
    prior sees; the file loads as a three-slice prior that reconstructs a volume."""
    out = train_tiny(tmp_path / "p.safetensors", data="headct-slabs", slices=3, duration="16", max_images=None)
    prior = load(out)
    assert prior.slices == 3 and prior.network.slices == 3
    stacks = prior.config["data"]["stacks"]
    training = set(headct.split_slabs(len(headct.read_volume()))["train"])
    assert stacks["slices"] == 3 and stacks["centres"]
    assert all({c - 1, c, c + 1} <= training for c in stacks["centres"])
    volume = torch.rand(1, 1, 2, 64, 64, generator=torch.Generator().manual_seed(0))
    assert CountedPrior(prior).denoise(volume, 0.3).shape == volume.shape
