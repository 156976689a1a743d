"""Reading images and measurements into float tensors, and writing results atomically.

Images come back as float32 tensors (C, H, W) in [0, 1]:
- PNG/JPEG/TIFF: integers are divided by their type's maximum (255, 65535); floats must already
  lie in [0, 1] unless a ``window`` is given;
- NPY: shape (H, W), (H, W, C) or (C, H, W) with C in {1, 3} (4 = RGBA, alpha dropped); integer
  arrays as above, float arrays in [0, 1] or mapped through ``window``;
- DICOM: stored values -> Hounsfield units (RescaleSlope/Intercept) -> ``window`` (default
  ``CT_WINDOW_HU``) -> [0, 1]. Needs the ``dicom`` extra (pydicom).
"""

import contextlib
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; keep to one process per output
    fcntl = None

import numpy as np
import torch
import torch.nn.functional as F

from invsolve.errors import InputNotice, InvsolveError
from invsolve.units import CT_WINDOW_HU, window_to_unit

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
DICOM_SUFFIXES = {".dcm", ".dicom", ".ima"}
READABLE_SUFFIXES = IMAGE_SUFFIXES | DICOM_SUFFIXES | {".npy"}
RGB_TO_GRAY = (0.2125, 0.7154, 0.0721)  # scikit-image's rgb2gray weights (ITU-R BT.709)


def read_image(
    path: str | os.PathLike,
    *,
    channels: int | None = None,
    image_size: int | None = None,
    window: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Read one image file to a (C, H, W) float32 tensor in [0, 1].

    ``channels`` converts colour <-> grayscale (1 or 3); ``image_size`` centre-crops to a square
    and resizes (anti-aliased) to ``image_size`` x ``image_size``.
    """
    path = Path(path)
    if not path.is_file():
        raise InvsolveError(_not_a_file(path))
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = read_npy(path)
    elif suffix in IMAGE_SUFFIXES:
        array = _read_raster(path)
    elif suffix in DICOM_SUFFIXES or is_dicom_file(path):
        array = read_dicom_hu(path)
        window = window or CT_WINDOW_HU
    else:
        raise InvsolveError(
            f"cannot read {path}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(sorted(READABLE_SUFFIXES))}"
        )
    image = to_unit_range(_channels_first(array, path), path, window)
    return prepare_image(image, channels=channels, image_size=image_size)


def prepare_image(image: torch.Tensor, *, channels: int | None = None, image_size: int | None = None) -> torch.Tensor:
    """Convert a (C, H, W) [0, 1] tensor to ``channels`` and to a square ``image_size``."""
    if channels is not None:
        image = convert_channels(image, channels)
    if image_size is not None:
        image = square_resize(image, image_size)
    return image


def convert_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Grayscale <-> RGB: luminance for colour -> gray, replication for gray -> colour."""
    if channels not in (1, 3):
        raise InvsolveError(f"channels must be 1 (grayscale) or 3 (colour), got {channels}")
    if image.shape[0] == channels:
        return image
    if channels == 1:
        weights = torch.tensor(RGB_TO_GRAY, dtype=image.dtype).view(3, 1, 1)
        return (image * weights).sum(0, keepdim=True)
    return image.expand(3, -1, -1).clone()


#: Upsampling an image more than this many times over gets a notice (a 1x1 image made 64x64, say).
UPSAMPLING_NOTICE = 4


def square_resize(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre-crop to a square, then resize to ``size`` x ``size`` (anti-aliased bilinear)."""
    if size < 8:
        raise InvsolveError(f"image size must be at least 8 pixels, got {size}")
    image = centre_square(image)
    if image.shape[-1] * UPSAMPLING_NOTICE < size:
        warnings.warn(
            f"the image is {image.shape[-1]}x{image.shape[-1]} pixels, upsampled {size / image.shape[-1]:.0f}x to "
            f"{size}x{size}: it holds little of the detail a reconstruction is scored on",
            InputNotice,
            stacklevel=2,
        )
    if image.shape[-1] != size:
        image = F.interpolate(image[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[
            0
        ].clamp(0, 1)
    return image.contiguous()


def centre_square(image: torch.Tensor) -> torch.Tensor:
    """The largest centred square of a (C, H, W) image."""
    _, h, w = image.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[:, top : top + side, left : left + side]


def read_measurement(path: str | os.PathLike) -> torch.Tensor:
    """Measured data from a .npy file: a finite float array, returned as a float32 tensor."""
    path = Path(path)
    if not path.is_file():
        raise InvsolveError(_not_a_file(path))
    if path.suffix.lower() != ".npy":
        raise InvsolveError(f"measurements must be a .npy file, got {path.name}; save them with numpy.save")
    array = _load_npy(path)
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
        raise InvsolveError(f"{path} must hold finite numbers (found NaN, Inf or non-numeric values)")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def read_dicom_hu(path: str | os.PathLike) -> np.ndarray:
    """One DICOM slice in Hounsfield units (float64 array, H x W)."""
    try:
        import pydicom
    except ImportError:
        raise InvsolveError("reading DICOM needs pydicom: pip install 'invsolve[dicom]'") from None
    try:
        ds = pydicom.dcmread(str(path))
        pixels = ds.pixel_array.astype(np.float64)
    except Exception as err:  # pydicom raises many types for damaged files
        raise InvsolveError(f"cannot read DICOM {path}: {err}") from None
    if pixels.ndim != 2:
        raise InvsolveError(f"DICOM {path} holds a {pixels.ndim}-D array; give single 2D slices")
    modality = str(getattr(ds, "Modality", "CT"))
    if modality != "CT":
        warnings.warn(
            f"DICOM {path} is {modality}, not CT: its values are not Hounsfield units, so the HU window "
            "(--window) decides what [0, 1] means; give --window for its own range",
            InputNotice,
            stacklevel=2,
        )
    return pixels * float(getattr(ds, "RescaleSlope", 1.0)) + float(getattr(ds, "RescaleIntercept", 0.0))


def write_image(path: str | os.PathLike, image: torch.Tensor, bits: int = 8) -> Path:
    """Write a (C, H, W) or (H, W) image: .png (8- or 16-bit, clamped to [0, 1]) or .npy (float32, as is)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise InvsolveError(f"cannot write {path.name}: output must end in .png or .npy")
    array = image.detach().float().cpu().numpy()
    if array.ndim == 3:
        array = array[0] if array.shape[0] == 1 else np.moveaxis(array, 0, -1)
    if suffix == ".npy":
        return atomic_write(path, lambda f: np.save(f, array))
    import imageio.v3 as iio

    if bits not in (8, 16):
        raise InvsolveError(f"PNG images have 8 or 16 bits, got {bits}")
    dtype = np.uint8 if bits == 8 else np.uint16
    pixels = np.round(np.clip(array, 0, 1) * np.iinfo(dtype).max).astype(dtype)
    return atomic_write(path, lambda f: iio.imwrite(f, pixels, extension=".png"))


def _not_a_file(path: Path) -> str:
    if path.is_dir():
        return f"cannot read {path}: that is a folder; give a file"
    return f"cannot read {path}: no such file; check the path"


def check_output(path: str | os.PathLike | None, suffixes: tuple[str, ...], what: str) -> None:
    """Fail before any work, not after a long run, when output ``what`` cannot be written at ``path``:
    a wrong suffix, a missing folder, a file where the folder should be, a folder where the file
    should be, or a folder this process cannot create files in (probed by creating one)."""
    if path is None:
        return
    p = Path(path)
    if not p.name.lower().endswith(tuple(suffixes)):
        raise InvsolveError(f"{what} {path}: the file name must end in {' or '.join(suffixes)}")
    blocking = next((parent for parent in p.parents if parent.is_file()), None)
    if blocking is not None:
        raise InvsolveError(f"{what} {path}: {blocking} is a file, not a folder")
    if not p.parent.is_dir():
        raise InvsolveError(f"{what} {path}: folder {p.parent} does not exist")
    if p.is_dir():
        raise InvsolveError(f"{what} {path}: that is a folder; give a file name")
    try:
        fd, probe = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".probe")
    except OSError as error:
        raise InvsolveError(f"{what} {path}: cannot create files in {p.parent}: {error.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def resolved_path(path: str | os.PathLike, name: str) -> Path:
    """``path`` made absolute with its symlinks followed; a loop of links is a clean error."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError) as error:  # RuntimeError("Symlink loop ...") up to Python 3.12, ELOOP after
        raise InvsolveError(f"{name} {path} cannot be resolved ({error}); a loop of symbolic links?") from None


def check_distinct(inputs: Mapping[str, object], outputs: Mapping[str, object]) -> None:
    """Refuse, before any work, an output that would destroy an input or another output: one that is
    the same path as an input, lies inside an input folder, or is a folder holding an input (writing
    or replacing it would take the input with it); and two outputs at one path.

    ``inputs`` and ``outputs`` map what the user called each path (``--input``) to the path or None
    (entries that are not paths, such as a built-in source name, are skipped).
    """
    given = {name: resolved_path(path, name) for name, path in inputs.items() if isinstance(path, str | os.PathLike)}
    seen: dict[Path, str] = {}
    for name, path in outputs.items():
        if not isinstance(path, str | os.PathLike):
            continue
        out = resolved_path(path, name)
        for input_name, source in given.items():
            if out == source:
                raise InvsolveError(f"{name} {path} is the same path as {input_name}; give another path")
            if source in out.parents:
                raise InvsolveError(
                    f"{name} {path} lies inside {input_name} {source}; write outside the inputs of the command"
                )
            if out in source.parents:
                raise InvsolveError(
                    f"{name} {path} holds {input_name} {source}; writing it could destroy that input, give another path"
                )
        if out in seen:
            raise InvsolveError(f"{name} {path} is the same path as {seen[out]}; give another path")
        seen[out] = name


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike, busy: str):
    """Hold an advisory lock on ``path`` (created if absent) while the block runs; if another process
    holds it, raise InvsolveError(``busy``) at once. The lock dies with its process, so a killed run
    never leaves a stale one."""
    with Path(path).open("w") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InvsolveError(busy) from None
        yield


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place.

    A crash or an error midway leaves ``path`` untouched (old content or absent), never half-written.
    """
    with written_together(path) as (tmp,), open(tmp, "wb") as f:
        write(f)
    return Path(path)


@contextlib.contextmanager
def written_together(*paths: str | os.PathLike | None):
    """Yield a temporary path beside each of ``paths`` (None stays None), with the same suffix, for
    the block to write; when the block ends, rename them all into place, or on an error remove them:
    a command whose second output fails leaves neither, so no set of outputs is half-written."""
    staged = []
    try:
        for path in map(Path, filter(None, paths)):
            if path.parent and not path.parent.is_dir():
                raise InvsolveError(f"cannot write {path}: folder {path.parent} does not exist")
            suffix = "".join(path.suffixes[-2:]) if path.suffix.lower() == ".gz" else path.suffix  # .nii.gz
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
            os.close(fd)
            staged.append(Path(tmp))
        tmps = iter(staged)
        yield [None if path is None else next(tmps) for path in paths]
        for path, tmp in zip(filter(None, paths), staged, strict=True):
            os.chmod(tmp, _new_file_mode())  # mkstemp makes files private (0600); give the usual mode
            os.replace(tmp, path)
    finally:
        for tmp in staged:
            tmp.unlink(missing_ok=True)


def current_umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _new_file_mode() -> int:
    """The mode an ordinary new file gets under the current umask."""
    return 0o666 & ~current_umask()


def to_unit_range(array: np.ndarray, source, window: tuple[float, float] | None = None) -> torch.Tensor:
    """Integer or float (C, H, W) array -> float32 tensor in [0, 1] (see the module docstring)."""
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise InvsolveError(f"{source} does not hold real pixel values (dtype {array.dtype})")
    if array.size == 0:
        raise InvsolveError(f"{source} holds no pixels (shape {array.shape})")
    if not np.isfinite(array).all():
        raise InvsolveError(f"{source} contains NaN or Inf values; clean the image first")
    if window is not None:
        return torch.from_numpy(window_to_unit(array, window))
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0:
            raise InvsolveError(
                f"{source} has negative integer values; give a window (LOW, HIGH) to map them to [0, 1]"
            )
        if array.dtype in (np.uint8, np.uint16):  # the file's bit depth says the white level
            maximum = np.iinfo(array.dtype).max
        elif array.max() <= 65535:  # other integer arrays (.npy): the smallest usual white level that holds them
            maximum = 255 if array.max() <= 255 else 65535
        else:  # dividing by the type's maximum would turn the image black: say so instead
            raise InvsolveError(
                f"{source} has integer values up to {array.max()}, beyond 16 bits, so their white level is "
                "unknown; give a window (LOW, HIGH) to map them to [0, 1]"
            )
        return torch.from_numpy((array / maximum).astype(np.float32))
    if array.min() < 0 or array.max() > 1:
        raise InvsolveError(
            f"{source} has values in [{array.min():.4g}, {array.max():.4g}], outside [0, 1]; "
            "rescale it or give a window (LOW, HIGH)"
        )
    return torch.from_numpy(array.astype(np.float32))


def _read_raster(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    if path.stat().st_size == 0:
        raise InvsolveError(f"cannot read {path}: the file is empty")
    try:
        cmyk = iio.immeta(path).get("mode") == "CMYK"  # print-ready JPEGs and TIFFs: 4 ink channels, not RGBA
        array = np.asarray(iio.imread(path, mode="RGB") if cmyk else iio.imread(path))
    except Exception:  # imageio raises many types, with its plug-in machinery's words, for damaged files
        raise InvsolveError(
            f"cannot read {path}: not a valid {path.suffix.lstrip('.').upper()} image (damaged, truncated "
            "or another kind of file)"
        ) from None
    if cmyk:
        warnings.warn(
            f"{path} is a CMYK image: converted to RGB without its colour profile, so its colours are approximate",
            InputNotice,
            stacklevel=3,
        )
    return array.astype(np.float32) if array.dtype == bool else array


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as err:  # ValueError (pickled objects), OSError/EOFError (corrupt), ...
        raise InvsolveError(f"cannot read {path} as a .npy array: {str(err).splitlines()[0]}") from None


def read_npy(path: Path) -> np.ndarray:
    """A .npy array (never unpickled); booleans as float32."""
    array = _load_npy(path)
    return array.astype(np.float32) if array.dtype == bool else array


def _channels_first(array: np.ndarray, source) -> np.ndarray:
    """(H, W), (H, W, C) or (C, H, W) -> (C, H, W) with C in {1, 3}; RGBA loses its alpha."""
    if array.ndim == 2:
        return array[None]
    if array.ndim == 3:
        if array.shape[-1] in (1, 3, 4) and array.shape[0] not in (1, 3):
            array = np.moveaxis(array, -1, 0)
        if array.shape[0] == 4:
            array = array[:3]
        if array.shape[0] in (1, 3):
            return array
    raise InvsolveError(f"{source} has shape {array.shape}; expected (H, W), (H, W, C) or (C, H, W) with C in 1, 3, 4")


def is_dicom_file(path: Path) -> bool:
    """DICOM files often have no suffix; they carry 'DICM' after a 128-byte preamble."""
    with open(path, "rb") as f:
        return f.read(132)[128:] == b"DICM"
