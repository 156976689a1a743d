"""The patch partition covers every image pixel exactly once for every shift; the positions agree."""

import pytest
import torch

from invsolve.errors import InvsolveError
from invsolve.priors import PatchGrid, default_pad, position_channels
from invsolve.priors.training import PatchSampler, TrainingConfig, check_config

GRIDS = [(64, 16, None), (128, 32, None), (256, 56, 24), (70, 16, None), (50, 12, 7)]


def pixel_ids(size):
    return torch.arange(1, size * size + 1, dtype=torch.float64).reshape(1, 1, size, size)


def times_covered(patches, size):
    """How often each id 0 (border), 1 .. N^2 (image pixels) occurs in the patches."""
    return torch.bincount(patches.flatten().long(), minlength=size * size + 1)


@pytest.mark.parametrize("size,patch,pad", GRIDS)
def test_every_pixel_is_covered_exactly_once_for_every_shift_and_the_border_is_zero(size, patch, pad):
    grid = PatchGrid(size, patch, default_pad(size, patch) if pad is None else pad)
    assert grid.count == (size // patch + 1) ** 2
    image = pixel_ids(size)
    for a in range(max(grid.pad, 1)):
        for b in range(max(grid.pad, 1)):
            patches = grid.split(image, (a, b))
            assert patches.shape == (grid.count, 1, patch, patch)
            counts = times_covered(patches, size)  # id 0: everything that is not an image pixel (the border)
            assert (counts[1:] == 1).all() and counts[0] == patches.numel() - size * size
            assert torch.equal(grid.merge(patches, (a, b)), image)


def test_paper_grid_is_5_by_5_with_pad_24():
    assert default_pad(256, 56) == 24
    grid = PatchGrid(256, 56, 24)
    assert grid.count == 25 and grid.span == 280


def test_random_shifts_are_seeded_and_span_the_pad(device):
    grid = PatchGrid(64, 16, 15)
    shifts = {grid.random_shift(torch.Generator(device).manual_seed(s)) for s in range(300)}
    assert {a for a, _ in shifts} == set(range(15))
    seeded = (grid.random_shift(torch.Generator(device).manual_seed(3)) for _ in range(2))
    assert next(seeded) == next(seeded)


def test_the_shift_is_drawn_from_the_generator_passed_in_on_its_device(device):
    grid = PatchGrid(64, 16, 15)
    generator = torch.Generator(device).manual_seed(5)
    before, global_state = generator.get_state(), torch.get_rng_state()
    grid.random_shift(generator)
    assert not torch.equal(generator.get_state(), before)  # the draw advanced the generator given
    assert torch.equal(torch.get_rng_state(), global_state)  # and nothing else
    generator.set_state(before)
    following = torch.randint(15, (2,), generator=generator, device=device).tolist()
    generator.set_state(before)
    assert list(grid.random_shift(generator)) == following  # on the generator's own device


@pytest.mark.parametrize(
    "size,patch,pad,message",
    [(64, 16, 16, "pad must be in 0..15"), (60, 16, 10, "cannot cover"), (64, 16, -1, "pad must be")],
)
def test_impossible_grids_are_refused(size, patch, pad, message):
    with pytest.raises(InvsolveError, match=message):
        PatchGrid(size, patch, pad)


def test_position_channels_map_image_pixel_centres_to_minus_one_one_whatever_the_pad():
    for pad in (0, 5, 20):
        pos = position_channels(64, torch.tensor([-pad]), torch.tensor([-pad]), 64 + 2 * pad)[0]
        assert pos[0, pad, pad] == -1 and pos[0, pad + 63, pad] == 1 and pos[1, pad, pad + 63] == 1
        assert torch.allclose(pos[0, :, 0].diff(), torch.tensor(2 / 63))


def coordinates_of_ids(ids, size):
    rows, cols = (ids - 1) // size, (ids - 1) % size
    return 2 * rows / (size - 1) - 1, 2 * cols / (size - 1) - 1


def test_training_and_inference_see_the_same_position_for_the_same_pixel():
    size = 64
    image = pixel_ids(size).float()
    config = check_config(
        TrainingConfig(
            out="p.safetensors", image_size=size, patch_sizes=(16,), patch_probs=(1.0,), net="tiny", batch=64, pad=30
        )
    )
    patches, positions, _ = PatchSampler(
        image, config, torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    ).draw()
    grid = PatchGrid(size, 16, 9)  # a different pad at inference: the frame must not care
    shift = (4, 7)
    grid_patches = grid.split(image, shift)
    grid_positions = position_channels(size, *grid.origins(shift), 16)
    for p, pos in ((patches, positions), (grid_patches, grid_positions)):
        mask = p[:, 0] != 0
        rows, cols = coordinates_of_ids(p[:, 0][mask], size)
        assert mask.sum() > 0
        assert torch.allclose(pos[:, 0][mask], rows) and torch.allclose(pos[:, 1][mask], cols)
