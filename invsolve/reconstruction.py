"""The whole job of ``invsolve reconstruct`` as one function: measurements in (simulated from a
ground-truth image, or measured), a reconstruction and its report out.

    result = reconstruct("ct8", prior="padis")      # the first test phantom, the bundled PaDIS prior
    print(result.summary())                          # PSNR / SSIM of FBP and of the reconstruction
    result.save(out="ct8.png", figure="ct8-figure.png")

The command line, the README's example and ``benchmarks/studies/main_job.py`` all run this function.
"""

import os
from dataclasses import dataclass
from typing import Any

import torch

from invsolve.catalog import DEFAULT_FALLBACK, PRIOR_KINDS, SOURCE_FOR_DOMAIN, method_label
from invsolve.data import get_source
from invsolve.devices import resolve_device
from invsolve.errors import InvsolveError
from invsolve.figures import save_comparison, save_volume_views
from invsolve.io import check_distinct, check_output, read_image, read_measurement, write_image, written_together
from invsolve.operators import (
    Preset,
    SliceStack,
    estimate_noise_level,
    get_preset,
    make_operator,
    noise_level,
    noise_model_for,
    photon_counts,
)
from invsolve.priors import Prior, load
from invsolve.solvers import get_solver, preferred_solver
from invsolve.solvers.settings import TunedTable
from invsolve.tasks import run_case
from invsolve.validation import check_arguments, check_image
from invsolve.volumes import Volume, read_volume, write_volume

#: What ``Reconstruction.save`` writes: the reconstruction as an image or a raw array, the figure as PNG.
OUTPUT_SUFFIXES = (".png", ".npy")
VOLUME_OUTPUT_SUFFIXES = (".nii.gz", ".nii", ".npy")
FIGURE_SUFFIXES = (".png",)
DEFAULT_IMAGE_SIZE = 128  # without a prior to say otherwise


@dataclass
class Reconstruction:
    """A reconstruction (1, C, H, W), the baseline it is compared with, the ground truth where known,
    and ``report``: metrics, NFEs, seconds, the settings used and the operator. Of a volume, all are
    (1, C, D, H, W) and ``volume`` is the input (its spacing and HU window)."""

    image: torch.Tensor
    baseline: torch.Tensor
    truth: torch.Tensor | None
    measurement: torch.Tensor
    report: dict
    std: torch.Tensor | None = None  # per-pixel std over the posterior samples (samples > 1)
    volume: Volume | None = None

    @property
    def method(self) -> str:
        """``dps + padis-ct``: the solver and, for a diffusion solver, the prior it ran with; ``admm-tv
        (not dds + padis-ct)`` where the held-out views preferred the fallback."""
        verdict = self.report.get("fallback")
        if verdict and verdict["chosen"] == verdict["against"]:
            return f"{verdict['against']} (not {method_label(verdict['checked'], self.report['prior'])})"
        return method_label(self.report["solver"], self.report["prior"])

    def save(self, out: str | os.PathLike | None = None, figure: str | os.PathLike | None = None) -> list[str]:
        """Write the reconstruction (``out``: .png or .npy; a volume .nii.gz, .nii or .npy, with the
        input's spacing) and a ground truth | baseline | reconstruction figure (``figure``: .png; a
        volume's in axial, coronal and sagittal views); returns the paths written."""
        check_output(out, VOLUME_OUTPUT_SUFFIXES if self.volume else OUTPUT_SUFFIXES, "out")
        check_output(figure, FIGURE_SUFFIXES, "figure")
        check_distinct({}, {"out": out, "figure": figure})
        title = f"{self.report['op']}: {get_preset(self.report['op']).summary}"
        with written_together(out, figure) as (out_file, figure_file):
            if self.volume is not None:
                if out_file is not None:
                    # the suffix decides the format; the temporary file keeps the output's name at its end
                    write_volume(out_file, self.image[0, 0], self.volume)
                if figure_file is not None:
                    save_volume_views(figure_file, self._panels(), self.volume.spacing_mm, title=title)
            else:
                if out_file is not None:
                    write_image(out_file, self.image[0])
                if figure_file is not None:
                    save_comparison(figure_file, self._panels(), title=title)
        return [str(path) for path in (out, figure) if path is not None]

    def _panels(self) -> list[tuple[str, torch.Tensor]]:
        r = self.report

        def title(name: str, p: float | None, s: float | None) -> str:
            return name if p is None else f"{name}\nPSNR {p:.2f} dB  SSIM {s:.3f}"

        panels = [] if self.truth is None else [("ground truth", self.truth[0])]
        panels += [
            (title(r["baseline"], r["baseline_psnr"], r["baseline_ssim"]), self.baseline[0]),
            (
                title(
                    self.method + (f", mean of {r['samples']}" if self.std is not None else ""), r["psnr"], r["ssim"]
                ),
                self.image[0],
            ),
        ]
        if self.std is not None:  # shown on its own scale: white is its largest value
            largest = self.std.max().clamp_min(1e-12)
            panels.append((f"posterior std (white: {largest.item():.3g})", self.std[0] / largest))
            if self.truth is not None:
                error = (self.image - self.truth).abs()[0]
                panels.append((f"|error| (white: {largest.item():.3g})", (error / largest).clamp(0, 1)))
        return panels

    def summary(self) -> str:
        """The human-readable report ``invsolve reconstruct`` prints."""
        r = self.report
        noise = (
            f"{r['photons']:g} photons per bin, noise about {r['noise']:.3g}"
            if r["photons"]
            else f"noise {r['noise']:g}"
        )
        noise += " estimated from the measurement" if r["noise_source"] == "estimated" else ""
        size = f"{r['image_size']}x{r['image_size']}"
        size = f"{r['depth']} slices of {size}" if "depth" in r else size
        lines = [f"{r['op']} on {r['input']} ({size}, {r['channels']} channel(s), {noise})"]
        rows = ((r["baseline"], r["baseline_psnr"], r["baseline_ssim"]), (self.method, r["psnr"], r["ssim"]))
        width = max(20, *(len(name) for name, _, _ in rows))
        for name, p, s in rows:
            scores = "(no ground truth)" if p is None else f"PSNR {p:6.2f} dB   SSIM {s:.3f}"
            lines.append(f"  {name:<{width}} {scores}")
        verdict = r.get("fallback")
        if verdict:
            errors = ", ".join(f"{name} {error:.3g}" for name, error in verdict["held_out_errors"].items())
            kept = "the prior fits" if verdict["chosen"] == verdict["checked"] else "the prior does not fit this scan"
            folds = verdict["check_folds"]
            over = "" if folds == 1 else f" (mean of {folds} folds)"
            lines.append(f"  held-out views' squared error{over}: {errors}: kept {verdict['chosen']} ({kept})")
            lines.append(
                f"  beyond the noise, {verdict['checked']}'s is {verdict['ratio']:.2f} of {verdict['against']}'s"
                f" ({verdict['ratio_needed']:.2f} or less keeps the prior)"
            )
        if self.std is not None:
            correlation = r.get("std_error_correlation")
            lines.append(
                f"  posterior std over {r['samples']} samples: mean {r['std_mean']:.4f}"
                + (f", correlation with |error| {correlation:.2f}" if correlation is not None else "")
            )
        lines.append(
            f"  {self.method} took {r['seconds']:.1f} s on {r['device']}"
            + (f" ({r['precision']})" if r["precision"] else "")
            + (f", {r['nfe']} NFEs" if r["nfe"] else "")
        )
        return "\n".join(lines)


def resolve_prior_name(prior: str | os.PathLike, op: str) -> str:
    """A prior argument as a bundled name or file: ``padis`` / ``whole`` name the bundled prior of the
    operator's domain (``padis-ct`` for CT, ``whole-photo`` otherwise); anything else is kept."""
    return f"{prior}-{get_preset(op).domain}" if prior in PRIOR_KINDS else str(prior)


def reconstruct(
    op: str,
    *,
    prior: str | os.PathLike | Prior | None = None,
    solver: str | None = None,
    image: str | os.PathLike | torch.Tensor | None = None,
    measurement: str | os.PathLike | torch.Tensor | None = None,
    volume: str | os.PathLike | Volume | None = None,
    slices: tuple[int, int] | None = None,
    image_size: int | None = None,
    noise: float | None = None,
    photons: float | None = None,
    window: tuple[float, float] | None = None,
    seed: int = 0,
    samples: int = 1,
    select: dict[str, list] | None = None,
    fallback: str | None = DEFAULT_FALLBACK,
    device: str | torch.device = "auto",
    precision: str = "auto",
    progress: bool = False,
    tuned: TunedTable | str | os.PathLike | None = None,
    **settings: Any,
) -> Reconstruction:
    """Reconstruct one image with operator preset ``op``.

    ``prior``: "padis" or "whole" (the bundled prior of the operator's domain), a bundled name, a
    prior file, or a ``Prior``; with one, ``solver`` defaults to the preset's preferred diffusion
    solver, without one to ADMM-TV. ``image``: the ground truth to simulate measurements from (a file
    or a (C, H, W) tensor in [0, 1]; default: the first test image of the built-in source of the
    operator's domain). ``measurement``: measured data instead (a .npy file or a (C, ...) tensor; no
    ground truth, so no PSNR). ``volume``: a CT volume as the ground truth instead (a DICOM folder, a
    NIfTI, .npy or .inv3 file, or a ``Volume``; ``invsolve.volumes``), measured slice by slice
    (``SliceStack``) and reconstructed as one problem; its PSNR is over all voxels, its SSIM the mean
    over slices; ``slices=(start, stop)`` keeps that slab of it. ``image_size``: default the prior's,
    else 128 (a volume's slices are resized to it).
    ``noise``: the standard deviation of Gaussian measurement noise; ``photons``: photon-count noise
    instead (CT: photons per detector bin, ``invsolve.operators.ct.ATTENUATION``). Without either,
    simulated measurements get the preset's noise, and a given ``measurement`` the level estimated
    from it (``invsolve.operators.estimate_noise_level``; the report's ``noise_source`` says which).
    ``seed`` seeds the simulated noise and the solver. ``samples`` > 1 (a diffusion solver): the mean of
    that many posterior samples, drawn in one batch, with their per-pixel standard deviation (``std``,
    shown in the figure; the report's ``std_error_correlation`` says how well it marks the errors).
    ``select``, e.g. ``{"tv_weight": [0, 0.003, 0.03]}``: one setting chosen for this scan from the
    measurements alone, by cross-validation on held-out views (``run_case``; the report's
    ``selection`` holds the choice and every value's held-out error).
    ``fallback``: the classical solver a diffusion solver is checked against on held-out views
    (default ADMM-TV; None skips the check): unless the prior predicts them clearly better, it does
    not fit the scan and the fallback's reconstruction is returned (the report's ``fallback`` says
    which was kept).
    ``precision``: the learned prior's arithmetic, "auto" (bf16 on a CUDA GPU that supports it, fp32 on CPUs),
    "fp32" or "bf16"; a ``Prior`` given as an object keeps its own.
    ``settings`` override the solver's defaults (``zeta=0.5``, ``steps=50``...): its generic values
    and the values tuned for ``op`` and the prior's kind, read from ``tuned`` (a ``TunedTable`` or a
    file; default the package's ``tuned.toml``); the report's ``tuned_log`` names the validation log
    of the tuned values used. The case runs through ``invsolve.tasks.run_case``.
    """
    scalars: dict[str, Any] = {"op": op, "solver": solver, "image_size": image_size, "noise": noise}
    scalars |= {"photons": photons, "window": window, "seed": seed}
    check_arguments(
        reconstruct, scalars | {"samples": samples, "precision": precision, "progress": progress}, "reconstruct"
    )
    if sum(given is not None for given in (image, measurement, volume)) > 1:
        raise InvsolveError(
            "give only one of image (a ground truth to simulate from), volume (a CT volume) or measurement "
            "(measured data)"
        )
    if volume is not None and not isinstance(volume, str | os.PathLike | Volume):
        raise InvsolveError(f"reconstruct: volume must be a path or a Volume, got {type(volume).__name__}")
    if slices is not None and volume is None:
        raise InvsolveError("reconstruct: slices chooses a slab of a volume; give volume too")
    preset = get_preset(op)
    if solver is None:
        solver = preferred_solver(op, with_prior=prior is not None)
    method = get_solver(solver)
    device = resolve_device(device)
    loaded: Prior | None = None
    prior_name = None
    if prior is not None and not isinstance(prior, Prior):
        prior_name = resolve_prior_name(prior, op)
        loaded = load(prior_name, device, precision)
    elif prior is not None:
        loaded, prior_name = prior, type(prior).__name__
    if image_size is None:
        image_size = (loaded.image_size if loaded is not None else None) or DEFAULT_IMAGE_SIZE
    if image_size < 8:
        raise InvsolveError(f"image_size must be at least 8, got {image_size}")

    truth, scanned = None, None
    noise_source = "given" if noise is not None or photons is not None else "preset"
    if measurement is not None:
        y, source_label = _measurement(measurement)
        operator = make_operator(op, image_size, channels=y.shape[0], device=device, noise=noise, photons=photons)
        y = y[None].to(device)
        operator.check_measurement(y)
        if noise_source == "preset":  # measured data brings its own noise, whatever the preset simulates
            operator.set_noise_model(noise_model_for(estimate_noise_level(operator, y)))
            noise_source = "estimated"
    elif volume is not None:
        if preset.domain != "ct":
            raise InvsolveError(f"volumes are CT scans; {op} is a {preset.domain} task (use a CT preset)")
        read = volume if isinstance(volume, Volume) else read_volume(volume, window=window)
        scanned = (read.slab(*slices) if slices is not None else read).resized(image_size)
        slice_operator = make_operator(op, image_size, device=device, noise=noise, photons=photons)
        operator = SliceStack(slice_operator, len(scanned))
        truth, y = scanned.slices[None, None].to(device), None
        source_label = scanned.name
    else:
        truth, source_label = _ground_truth(image, preset, image_size, window)
        operator = make_operator(op, image_size, channels=truth.shape[0], device=device, noise=noise, photons=photons)
        truth, y = truth[None].to(device), None

    outcome = run_case(
        operator,
        method,
        loaded,
        truth=truth,
        measurement=y,
        seed=seed,
        samples=samples,
        select=select,
        fallback=None if fallback is None else get_solver(fallback),
        settings=settings,
        tuned=tuned,
        progress=progress,
    )
    report = {
        "op": op,
        **outcome.record(),
        "prior": prior_name,
        "input": source_label,
        "image_size": image_size,
        "channels": operator.image_shape[0],
        "noise": noise_level(operator, outcome.measurement),
        "photons": photon_counts(operator),
        "noise_source": noise_source,
        "baseline": operator.baseline_name,
        "seed": seed,
        "device": str(device),
        "precision": getattr(getattr(loaded, "network", None), "precision", None),
        "operator": operator.describe(),
    }
    if scanned is not None:
        report |= {"depth": len(scanned), "spacing_mm": list(scanned.spacing_mm)}
    return Reconstruction(outcome.image, outcome.baseline, truth, outcome.measurement, report, outcome.std, scanned)


def _ground_truth(
    image: str | os.PathLike | torch.Tensor | None,
    preset: Preset,
    image_size: int,
    window: tuple[float, float] | None,
) -> tuple[torch.Tensor, str]:
    """The (C, N, N) ground truth and a label saying where it came from."""
    if image is None:
        source = get_source(SOURCE_FOR_DOMAIN[preset.domain], "test", image_size, preset.channels)
        return source[0], f"{source.name}:test:{source.label(0)}"
    if isinstance(image, torch.Tensor):
        if image.dim() != 3:
            raise InvsolveError(f"image must be a (C, H, W) tensor, got shape {tuple(image.shape)}")
        check_image("image", image, "reconstruct")
        if image.shape[1:] != (image_size, image_size):
            raise InvsolveError(
                f"image is {image.shape[1]}x{image.shape[2]} but image_size is {image_size}; "
                "resize it or pass a file (files are cropped and resized)"
            )
        return image.float(), "tensor"
    return read_image(image, channels=preset.channels, image_size=image_size, window=window), str(image)


def _measurement(measurement: str | os.PathLike | torch.Tensor) -> tuple[torch.Tensor, str]:
    """Measured data of one image as (C, ...) and a label."""
    y = measurement if isinstance(measurement, torch.Tensor) else read_measurement(measurement)
    label = "tensor" if isinstance(measurement, torch.Tensor) else str(measurement)
    y = y[None] if y.dim() == 2 else y  # (m1, m2) -> one channel
    if y.dim() != 3:
        raise InvsolveError(
            f"{label} has shape {tuple(y.shape)}; expected (C, ...) measurements of one image, "
            "e.g. (views, bins) for CT"
        )
    return y.float(), label
