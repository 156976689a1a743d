import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from invsolve.metrics import psnr, seam_score, ssim


def test_gray_metrics_equal_scikit_image(generator):
    ref = torch.rand(1, 40, 40, generator=generator)
    x = (ref + 0.1 * torch.randn(1, 40, 40, generator=generator)).clamp(0, 1)
    r, a = ref[0].double().numpy(), x[0].double().numpy()
    assert psnr(x, ref) == pytest.approx(peak_signal_noise_ratio(r, a, data_range=1.0), abs=1e-9)
    assert ssim(x, ref) == pytest.approx(structural_similarity(r, a, data_range=1.0), abs=1e-9)


def test_colour_ssim_uses_the_channel_axis(generator):
    ref = torch.rand(3, 40, 40, generator=generator)
    x = (ref + 0.1 * torch.randn(3, 40, 40, generator=generator)).clamp(0, 1)
    expected = structural_similarity(
        np.moveaxis(ref.double().numpy(), 0, -1),
        np.moveaxis(x.double().numpy(), 0, -1),
        data_range=1.0,
        channel_axis=-1,
    )
    assert ssim(x, ref) == pytest.approx(expected, abs=1e-9)


def test_values_are_clamped_to_unit_range_and_batches_give_lists(generator):
    ref = torch.rand(2, 1, 16, 16, generator=generator)
    outside = ref * 3 - 1
    assert psnr(outside, ref) == psnr(outside.clamp(0, 1), ref)
    assert len(ssim(outside, ref)) == 2
    with pytest.raises(ValueError, match="same shape"):
        psnr(ref, ref[0])


def test_seam_score_flags_a_patch_lattice_at_any_offset_and_not_plain_noise(generator):
    """Errors that jump on the boundaries of 16 px blocks (as a fixed patch grid leaves) score far
    above white noise; an image's own edges, which cross a line in a few places, do not count."""
    truth = torch.rand(1, 64, 64, generator=generator)
    noisy = truth + 0.05 * torch.randn(truth.shape, generator=generator)
    offsets = 0.2 * torch.randn(1, 5, 5, generator=generator)
    lattice = offsets.repeat_interleave(16, 1).repeat_interleave(16, 2)[:, 5:69, 9:73]  # boundaries at 11, 7 mod 16
    edges = noisy.clone()
    edges[:, 20:24, 10:30] += 0.5  # a short bar: its edges cross each line in a few places
    background = noisy.clone()
    background[:, :, :40] = truth[:, :, :40]  # no error at all over most of each row: stays finite
    scores = [seam_score(x, truth, 16) for x in (noisy, edges, background, noisy + lattice)]
    assert max(scores[:3]) < 1.1 and scores[3] > 1.5
    with pytest.raises(ValueError, match="at least 2"):
        seam_score(noisy, truth, 1)


def test_slice_differences_are_the_mean_absolute_change_between_neighbouring_slices():
    from invsolve.metrics import slice_differences

    levels = torch.tensor([0.0, 0.5, 0.5, 1.5])  # the last clamps to 1
    volume = levels.view(1, 4, 1, 1).expand(2, 4, 3, 3)
    assert torch.allclose(slice_differences(volume), torch.tensor([0.5, 0.0, 0.5]))
