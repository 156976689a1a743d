"""Natural photographs that ship inside installed packages (scikit-image, matplotlib).

Each file gives five square images: its centred square crop and that square's four quadrants.
The split is by file, so no part of a test photograph is ever seen in training or tuning.
"""

import os
from functools import cache

#: (package, file) per split. Test and validation hold colour photographs; training also uses
#: grayscale ones (replicated to colour when 3 channels are asked for).
PHOTO_FILES = {
    "test": [("skimage", "astronaut.png"), ("skimage", "coffee.png")],
    "validation": [("skimage", "chelsea.png"), ("skimage", "rocket.jpg")],
    "train": [
        ("skimage", "hubble_deep_field.jpg"),
        ("skimage", "ihc.png"),
        ("skimage", "retina.jpg"),
        ("skimage", "motorcycle_left.png"),
        ("skimage", "motorcycle_right.png"),
        ("matplotlib", "grace_hopper.jpg"),
        ("skimage", "camera.png"),
        ("skimage", "brick.png"),
        ("skimage", "grass.png"),
        ("skimage", "gravel.png"),
        ("skimage", "moon.png"),
        ("skimage", "coins.png"),
        ("skimage", "cell.png"),
        ("skimage", "clock_motion.png"),
    ],
}
VIEWS = ("full", "top-left", "top-right", "bottom-left", "bottom-right")

#: The terms of each training photograph, as the package that ships it documents them
#: (``skimage.data``'s docstrings; matplotlib's sample data). A prior trained on photos records them.
TRAINING_TERMS = {
    "hubble_deep_field.jpg": "public domain (NASA)",
    "ihc.png": "no known copyright restrictions",
    "retina.jpg": "CC0 1.0",
    "motorcycle_left.png": "Middlebury 2014 stereo benchmark; scikit-image states no licence",
    "motorcycle_right.png": "Middlebury 2014 stereo benchmark; scikit-image states no licence",
    "grace_hopper.jpg": "public domain (U.S. Navy photograph, matplotlib sample data)",
    "camera.png": "CC0 (Lav Varshney)",
    "brick.png": "CC0 (CC0Textures)",
    "grass.png": "CC0 (CC0Textures)",
    "gravel.png": "CC0 (CC0Textures)",
    "moon.png": "scikit-image states no licence",
    "coins.png": "no known copyright restrictions",
    "cell.png": "CC0",
    "clock_motion.png": "public domain (Stefan van der Walt)",
}


@cache
def package_data_dir(package: str) -> str:
    if package == "skimage":
        import skimage

        return os.path.join(os.path.dirname(skimage.__file__), "data")
    if package == "matplotlib":
        import matplotlib

        return os.path.join(matplotlib.get_data_path(), "sample_data")
    raise ValueError(f"no bundled photographs known in package {package!r}")


def photo_entries(split: str) -> list[tuple[str, str]]:
    """(path, view) for every image of ``split``, in a fixed order."""
    return [(os.path.join(package_data_dir(pkg), name), view) for pkg, name in PHOTO_FILES[split] for view in VIEWS]
