"""Turn users' copies of the paper's datasets into image folders with train/validation/test splits.

- ``prepare_aapm(src, dst)``: AAPM 2016 low-dose CT challenge volumes (DICOM) -> 256x256 slices in
  [0, 1] as 16-bit PNG. The paper's split: the middle 256 slices of each volume; 9 volumes train,
  25 slices of the tenth (evenly spaced) test. Validation: 25 evenly spaced slices of the last
  training volume, taken out of train (the paper had no validation split; ``validation=0`` keeps
  its exact training set).
- ``prepare_celeba(src, dst)``: CelebA-HQ images -> 256x256 RGB PNG; the first 3000 (by file name)
  train, then a seeded random 25 of the rest test and another 25 validation.

Both write ``dst/{train,validation,test}/`` (readable by ``get_source(dst, split)``) and
``dst/prepared.json`` recording the source files of every output image. They build the folder
beside ``dst`` and move it into place only when every image is written: a failure part-way leaves
``dst`` as it was. An earlier output of theirs (it has ``prepared.json``) is replaced whole, never
mixed with the new one; any other non-empty ``dst`` is refused unless ``replace=True``.
"""

import json
import os
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import torch
from tqdm.auto import tqdm

from invsolve.catalog import SPLITS
from invsolve.errors import InvsolveError
from invsolve.io import (
    DICOM_SUFFIXES,
    IMAGE_SUFFIXES,
    atomic_write,
    check_distinct,
    current_umask,
    is_dicom_file,
    read_image,
    write_image,
)
from invsolve.units import CT_WINDOW_HU


def evenly_spaced(count: int, total: int) -> list[int]:
    """``count`` indices spread evenly over ``range(total)`` (centred in equal bins)."""
    if count > total:
        raise InvsolveError(f"cannot take {count} slices of {total}")
    return [int((i + 0.5) * total / count) for i in range(count)]


def _dicom_volumes(src: Path) -> dict[str, list[tuple[float, Path]]]:
    """Every DICOM series under ``src`` (by SeriesInstanceUID), its slices as (position, file)."""
    import pydicom

    volumes = defaultdict(list)
    files = [
        p for p in sorted(src.rglob("*")) if p.is_file() and (p.suffix.lower() in DICOM_SUFFIXES or is_dicom_file(p))
    ]
    for path in tqdm(files, desc="reading DICOM headers", leave=False, disable=not _progress()):
        header = pydicom.dcmread(str(path), stop_before_pixels=True)
        position = getattr(header, "ImagePositionPatient", None)
        z = float(position[2]) if position is not None else float(getattr(header, "InstanceNumber", 0))
        name = f"{getattr(header, 'PatientID', '') or path.parent.name}-{header.SeriesInstanceUID}"
        volumes[name].append((z, path))
    return {name: sorted(slices, key=lambda s: s[0]) for name, slices in sorted(volumes.items())}


def prepare_aapm(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    size: int = 256,
    slices: int = 256,
    test_slices: int = 25,
    validation: int = 25,
    window: tuple[float, float] = CT_WINDOW_HU,
    replace: bool = False,
) -> dict:
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise InvsolveError(f"AAPM source folder {src} does not exist")
    check_distinct({"src": src}, {"dst": dst})  # whatever replace says: dst replaced whole takes src with it
    _check_destination(dst, replace)
    try:
        import pydicom  # noqa: F401
    except ImportError:
        raise InvsolveError("preparing AAPM needs pydicom: pip install 'invsolve[dicom]'") from None
    volumes = _dicom_volumes(src)
    if len(volumes) < 2:
        raise InvsolveError(
            f"{src} holds {len(volumes)} DICOM series; the split needs at least 2 volumes "
            "(the paper: 10, 9 for training and the last for testing)"
        )
    names = list(volumes)
    plan = defaultdict(list)  # split -> [(output name, source file)]
    for number, name in enumerate(names):
        slices_here = volumes[name]
        if len(slices_here) > slices:  # the middle ``slices`` slices, as the paper cropped in z
            start = (len(slices_here) - slices) // 2
            slices_here = slices_here[start : start + slices]
        files = [(f"v{number:02d}-s{i:03d}", path) for i, (_, path) in enumerate(slices_here)]
        if number == len(names) - 1:
            plan["test"] += [files[i] for i in evenly_spaced(test_slices, len(files))]
        elif number == len(names) - 2 and validation:
            held_out = set(evenly_spaced(validation, len(files)))
            plan["validation"] += [f for i, f in enumerate(files) if i in held_out]
            plan["train"] += [f for i, f in enumerate(files) if i not in held_out]
        else:
            plan["train"] += files

    def convert(path: Path) -> torch.Tensor:
        return read_image(path, channels=1, image_size=size, window=window)

    return _write_splits(
        dst,
        plan,
        convert,
        bits=16,
        meta={"dataset": "aapm", "size": size, "window": list(window), "volumes": names, "slices_per_volume": slices},
    )


def prepare_celeba(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    size: int = 256,
    train: int = 3000,
    test: int = 25,
    validation: int = 25,
    seed: int = 0,
    replace: bool = False,
) -> dict:
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise InvsolveError(f"CelebA-HQ source folder {src} does not exist")
    check_distinct({"src": src}, {"dst": dst})  # whatever replace says: dst replaced whole takes src with it
    _check_destination(dst, replace)
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) < train + test + validation:
        raise InvsolveError(
            f"{src} holds {len(files)} images; the split needs {train} train + {test} test + "
            f"{validation} validation (lower train, test or validation)"
        )
    rest = files[train:]
    order = torch.randperm(len(rest), generator=torch.Generator().manual_seed(seed)).tolist()
    plan = {
        "train": [(p.stem, p) for p in files[:train]],
        "test": [(rest[i].stem, rest[i]) for i in sorted(order[:test])],
        "validation": [(rest[i].stem, rest[i]) for i in sorted(order[test : test + validation])],
    }

    def convert(path: Path) -> torch.Tensor:
        return read_image(path, channels=3, image_size=size)

    return _write_splits(dst, plan, convert, bits=8, meta={"dataset": "celeba", "size": size, "seed": seed})


def _check_destination(dst: Path, replace: bool) -> None:
    """Before any work: ``dst`` is absent, empty, an earlier output of prepare, or ``replace`` is set."""
    if dst.exists() and not dst.is_dir():
        raise InvsolveError(f"DST {dst} is a file; give a folder")
    if not dst.parent.is_dir():
        raise InvsolveError(f"DST {dst}: folder {dst.parent} does not exist")
    if dst.is_dir() and any(dst.iterdir()) and not (dst / "prepared.json").is_file() and not replace:
        raise InvsolveError(
            f"DST {dst} holds other files; give an empty or new folder, or pass --replace to replace it whole"
        )


def _write_splits(dst: Path, plan: dict, convert, *, bits: int, meta: dict) -> dict:
    """Write every split into a folder beside ``dst``, then swap it in: all or nothing."""
    building = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".building"))
    try:
        for split in SPLITS:
            (building / split).mkdir()
        record = {**meta, "splits": {}}
        jobs = [(split, name, path) for split in SPLITS for name, path in plan.get(split, [])]
        for split, name, path in tqdm(jobs, desc=f"writing {dst}", disable=not _progress()):
            write_image(building / split / f"{name}.png", convert(path), bits=bits)
            record["splits"].setdefault(split, {})[f"{name}.png"] = str(path)
        atomic_write(building / "prepared.json", lambda f: f.write(json.dumps(record, indent=1).encode()))
        os.chmod(building, 0o777 & ~current_umask())  # mkdtemp makes folders private; give the usual mode
        if dst.exists():  # the old folder goes only once the new one is complete
            old = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".old"))
            os.replace(dst, old / dst.name)
            os.replace(building, dst)
            shutil.rmtree(old)
        else:
            os.replace(building, dst)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return {split: len(plan.get(split, [])) for split in SPLITS}


def _progress() -> bool:
    return sys.stderr.isatty()
