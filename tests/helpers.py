"""Small files the tests write (real formats, made on the spot)."""

import numpy as np


def write_test_dicom(
    path,
    pixels: np.ndarray,
    intercept: float = -1024.0,
    *,
    series: str | None = None,
    patient: str = "",
    z: float | None = None,
    modality: str = "CT",
    pixel_spacing: tuple[float, float] | None = None,
):
    """A minimal CT DICOM file (used by the tests of readers, folder sources and data preparation);
    ``series``/``patient``/``z``/``pixel_spacing`` set the volume, slice position and pixel size."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, modality
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleIntercept, ds.RescaleSlope = intercept, 1.0
    ds.SeriesInstanceUID = series or generate_uid()
    ds.PatientID = patient
    if z is not None:
        ds.ImagePositionPatient = [0.0, 0.0, z]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    if pixel_spacing is not None:
        ds.PixelSpacing = list(pixel_spacing)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


TINY_RUN = dict(
    net="tiny", image_size=64, patch_sizes=(16, 8), patch_probs=(0.6, 0.4), max_images=8, batch=8, lr=1e-3, seed=3
)


def train_tiny(out, duration="320", **changes):
    """Train a tiny prior (``duration`` in images) on 8 phantoms; returns the file."""
    from invsolve.priors import TrainingConfig, train

    return train(
        TrainingConfig(out=str(out), duration=duration, command="test", **(TINY_RUN | changes)), progress=False
    )


def tiny_train_flags(**changes) -> list[str]:
    """``TINY_RUN`` (with ``changes``) as ``invsolve train`` flags, for the command-line tests."""
    settings = TINY_RUN | changes
    flags = []
    for key in ("net", "image_size", "patch_sizes", "patch_probs", "max_images", "batch"):
        value = settings[key]
        flags += [f"--{key.replace('_', '-')}", ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    return flags


#: The colours of ``write_cmyk_jpeg``'s two halves, as RGB in 0..255.
CMYK_HALVES = ((200, 100, 0), (30, 60, 220))


def write_cmyk_jpeg(path) -> None:
    """A 32x32 print-ready JPEG in CMYK: its top half and bottom half in the two ``CMYK_HALVES``."""
    from PIL import Image

    rgb = np.zeros((32, 32, 3), dtype=np.uint8)
    rgb[:16], rgb[16:] = CMYK_HALVES
    Image.fromarray(rgb).convert("CMYK").save(path, quality=95)


#: The exact-posterior problem of the solver tests: an 8 px Gaussian prior, a 3x3 blur, noise 0.05,
#: and 64 samples per check.
SIZE, SAMPLES, NOISE = 8, 64, 0.05


def gaussian_posterior_problem():
    """(prior, operator, y, posterior mean, posterior standard deviations) for a Gaussian prior and a
    3x3 blur with noise 0.05: the posterior is Gaussian and known exactly."""
    import torch

    from invsolve.operators import make_operator
    from invsolve.priors import GaussianPrior

    prior = GaussianPrior(SIZE, mean=0.5, std=0.2, correlation_length=1.5)
    op = make_operator("deblur", SIZE, channels=1, kernel_size=3, noise=NOISE)
    truth = prior.sample(1, torch.Generator().manual_seed(1))
    y = op.simulate(truth, torch.Generator().manual_seed(2))
    A = op.A(torch.eye(SIZE * SIZE).reshape(-1, 1, SIZE, SIZE)).reshape(SIZE * SIZE, -1).T.double()
    prior_cov = prior.covariance()
    post_cov = torch.linalg.inv(torch.linalg.inv(prior_cov) + A.T @ A / NOISE**2)
    post_mean = post_cov @ (
        torch.linalg.solve(prior_cov, torch.full((SIZE * SIZE,), 0.5, dtype=torch.float64))
        + A.T @ y.reshape(-1).double() / NOISE**2
    )
    return prior, op, y, post_mean, post_cov.diagonal().sqrt()


def bias_in_posterior_sds(problem, solver, device=None, **settings):
    """Mean over pixels of |sample mean - posterior mean| / posterior sd, from 64 independent samples,
    the solver running on ``device`` (default the CPU; operator, prior, data and generator there)."""
    import copy

    import torch

    from invsolve.operators import make_operator
    from invsolve.solvers import get_solver

    device = device or torch.device("cpu")
    prior, op, y, post_mean, post_sd = problem
    if device.type != "cpu":
        prior, y = copy.deepcopy(prior).to(device), y.to(device)
        op = make_operator("deblur", SIZE, channels=1, kernel_size=3, noise=NOISE, device=device)
    x = get_solver(solver)(
        op, y.repeat(SAMPLES, 1, 1, 1), prior, generator=torch.Generator(device).manual_seed(3), steps=100, **settings
    )
    return ((x.reshape(SAMPLES, -1).cpu().double().mean(0) - post_mean) / post_sd).abs().mean().item()


class TinyEpsilonNet:
    """Built lazily as a torch module (``make``): a two-layer convolutional epsilon network with
    learned variances, 2C outputs, called ``model(z_t, t)`` as guided diffusion's ADM is; the
    network class a DDPM description file names in the tests."""

    def __new__(cls, channels: int = 1, width: int = 8):
        import torch

        class Network(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = torch.nn.Conv2d(channels + 1, width, 3, padding=1)
                self.outer = torch.nn.Conv2d(width, 2 * channels, 3, padding=1)

            def forward(self, z, t):
                time = (t.float() / 1000).reshape(-1, 1, 1, 1).expand(-1, 1, *z.shape[-2:])
                return self.outer(torch.nn.functional.silu(self.inner(torch.cat([z, time], dim=1))))

        return Network()
