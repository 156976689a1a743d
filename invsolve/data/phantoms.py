"""Procedural CT-like axial slices (thorax and upper abdomen), deterministic per seed.

Each slice is painted in Hounsfield units on a supersampled canvas (so edges get partial-volume
values when it is averaged down), then mapped to [0, 1] through the fixed window
``invsolve.units.CT_WINDOW_HU``. What it draws, back to front:

- a CT couch, the body outline (skin, a subcutaneous fat layer of varying thickness, the muscle
  wall, paraspinal and psoas muscles, intra-abdominal fat);
- thorax: lungs with parenchymal texture, branching vessel trees, vessels seen end-on and
  branching airways (air lumen, soft-tissue wall), the trachea or main bronchi, the heart with its
  chambers, aorta, esophagus;
- abdomen: liver with portal/hepatic vessel trees, spleen, stomach with an air-fluid level,
  kidneys (cortex, medulla, sinus fat), pancreas, aorta and IVC, mesenteric vessels, bowel loops
  with walls and mottled contents, sometimes lung bases behind the liver;
- bones with cortical shells and trabecular interiors: vertebra (body, canal, posterior
  elements), ribs, sternum (thorax);
- soft tissue texture everywhere, and a little correlated noise inside the body.

A random contrast phase (none, arterial or portal-venous) changes vessel and organ enhancement.
Seeds of the train, validation and test splits never overlap (``SPLIT_SEED_BASE``).
"""

import math

import numpy as np
from scipy import ndimage

from invsolve.catalog import SPLITS
from invsolve.units import CT_WINDOW_HU, window_to_unit

SPLIT_SIZE = 1_000_000  # seeds per split: [base, base + SPLIT_SIZE)
SPLIT_SEED_BASE = {split: i * SPLIT_SIZE for i, split in enumerate(SPLITS)}  # train 0, validation 1M, test 2M
MIN_SIZE, MAX_SIZE = 64, 512
CANVAS_MIN = 384  # supersampled canvas side: at least this, and a multiple of the output size

AIR, LUNG, FAT, WATER, MUSCLE, SKIN = -1000.0, -860.0, -100.0, 5.0, 45.0, 25.0
CORTICAL, TRABECULAR = 1300.0, 250.0


def phantom_seed(split: str, index: int) -> int:
    """The seed of the ``index``-th phantom of ``split`` ('train', 'validation' or 'test')."""
    if split not in SPLIT_SEED_BASE:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_SEED_BASE)}")
    if not 0 <= index < SPLIT_SIZE:
        raise ValueError(f"phantom index must be in [0, {SPLIT_SIZE}), got {index}")
    return SPLIT_SEED_BASE[split] + index


def ct_phantom(seed: int, size: int = 128) -> np.ndarray:
    """One phantom as a float32 (size, size) array in [0, 1] (windowed HU)."""
    return window_to_unit(ct_phantom_hu(seed, size), CT_WINDOW_HU)


def ct_phantom_hu(seed: int, size: int = 128) -> np.ndarray:
    """One phantom in Hounsfield units, (size, size) float32."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"phantom size must be between {MIN_SIZE} and {MAX_SIZE}, got {size}")
    factor = max(2, math.ceil(CANVAS_MIN / size))
    canvas = _Canvas(size * factor, seed)
    _paint_slice(canvas)
    hu = canvas.hu.reshape(size, factor, size, factor).mean(axis=(1, 3))  # partial-volume averaging
    return hu.astype(np.float32)


class _Canvas:
    """An HU image on [-1, 1]^2 (x to the right = patient's left, y down = posterior).

    Two random streams: ``rng`` draws the anatomy (a fixed number of draws whatever the canvas
    size, so a seed is the same patient at every resolution) and a separate one draws the
    pixel-sized texture and noise fields.
    """

    def __init__(self, n: int, seed: int):
        layout, texture = np.random.SeedSequence(seed).spawn(2)
        self.n, self.rng = n, np.random.default_rng(layout)
        self.hu = np.full((n, n), AIR)
        self.centres = (np.arange(n) + 0.5) / n * 2 - 1
        self.pixel = 2.0 / n
        texture_rng = np.random.default_rng(texture)
        # Shared texture fields (unit variance): fine grain, coarser mottling, scanner noise.
        self.fine = _gaussian_field(texture_rng, n, 0.006 / self.pixel)
        self.coarse = _gaussian_field(texture_rng, n, 0.02 / self.pixel)
        self.noise = _gaussian_field(texture_rng, n, 0.6 * n / 256)

    def points_in(self, mask: np.ndarray, candidates: int) -> np.ndarray:
        """Random points (x, y) inside ``mask``: ``candidates`` uniform draws, those that fall inside."""
        points = self.rng.uniform(-1, 1, size=(candidates, 2))
        cols, rows = np.minimum(((points + 1) / 2 * self.n).astype(int), self.n - 1).T
        return points[mask[rows, cols]]

    def box(self, cx: float, cy: float, radius: float):
        """Index window and coordinates of the pixels within ``radius`` (a square) of (cx, cy)."""
        lo_c, hi_c = np.searchsorted(self.centres, [cx - radius, cx + radius])
        lo_r, hi_r = np.searchsorted(self.centres, [cy - radius, cy + radius])
        window = (slice(lo_r, max(hi_r, lo_r)), slice(lo_c, max(hi_c, lo_c)))
        x, y = np.meshgrid(self.centres[window[1]], self.centres[window[0]])
        return window, x, y

    def paint(self, window, mask, value, *, texture: float = 0.0, coarse: float = 0.0, within=None):
        """Set the masked pixels to ``value`` (HU) plus texture of the given amplitudes (HU)."""
        if within is not None:
            mask = mask & within[window]
        if not mask.any():
            return
        hu = np.full(mask.shape, value, dtype=float) if np.isscalar(value) else value.astype(float)
        if texture:
            hu = hu + texture * self.fine[window]
        if coarse:
            hu = hu + coarse * self.coarse[window]
        self.hu[window][mask] = hu[mask]

    def full_mask(self, window, mask) -> np.ndarray:
        out = np.zeros((self.n, self.n), dtype=bool)
        out[window] = mask
        return out


def _gaussian_field(rng, n: int, sigma_px: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma_px, mode="wrap")
    return field / field.std()


# ----------------------------------------------------------------------------------------------
# Shapes: each returns (window, mask) on the canvas.


def _ellipse(c: _Canvas, cx, cy, ax, ay, angle=0.0):
    window, x, y = c.box(cx, cy, max(ax, ay))
    ca, sa = math.cos(angle), math.sin(angle)
    u, v = (x - cx) * ca + (y - cy) * sa, -(x - cx) * sa + (y - cy) * ca
    return window, (u / ax) ** 2 + (v / ay) ** 2 <= 1.0


def _blob(c: _Canvas, cx, cy, ax, ay, angle, harmonics, scale=1.0):
    """An ellipse whose radius is modulated by Fourier ``harmonics`` [(k, amplitude, phase)]."""
    reach = max(ax, ay) * scale * (1 + sum(abs(a) for _, a, _ in harmonics))
    window, x, y = c.box(cx, cy, reach)
    ca, sa = math.cos(angle), math.sin(angle)
    u, v = ((x - cx) * ca + (y - cy) * sa) / ax, (-(x - cx) * sa + (y - cy) * ca) / ay
    theta = np.arctan2(v, u)
    radius = scale * (1 + sum(a * np.cos(k * theta + p) for k, a, p in harmonics))
    return window, np.hypot(u, v) <= radius


def _random_harmonics(rng, strength: float, orders=(2, 3, 4, 5)):
    return [(k, strength * rng.uniform(0.3, 1.0) / k, rng.uniform(0, 2 * math.pi)) for k in orders]


def _tube(c: _Canvas, p0, p1, radius):
    """Pixels within ``radius`` of the segment p0-p1."""
    (x0, y0), (x1, y1) = p0, p1
    window, x, y = c.box((x0 + x1) / 2, (y0 + y1) / 2, math.hypot(x1 - x0, y1 - y0) / 2 + radius)
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((x - x0) * dx + (y - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
    return window, np.hypot(x - x0 - t * dx, y - y0 - t * dy) <= radius


def _tree(rng, start, direction, length, radius, depth, spread=(0.35, 0.7)):
    """Segments (p0, p1, radius) of a random binary branching tree (vessels, airways)."""
    segments = []
    stack = [(np.asarray(start, float), float(direction), length, radius, depth)]
    while stack:
        p, angle, length, radius, depth = stack.pop()
        wobble = angle + rng.normal(0, 0.15)
        q = p + length * np.array([math.cos(wobble), math.sin(wobble)])
        segments.append((p, q, radius))
        if depth > 0:
            for side in (-1, 1):
                turn = side * rng.uniform(*spread)
                stack.append(
                    (q, wobble + turn, length * rng.uniform(0.65, 0.85), radius * rng.uniform(0.62, 0.8), depth - 1)
                )
    return segments


def _paint_tree(c: _Canvas, segments, value, *, within=None, wall=None, in_plane=1.0):
    """Paint tree segments; with ``wall`` = (HU, thickness) the tube is hollow (an airway).

    Each segment is kept with probability ``in_plane``: a slice cuts a 3D tree into pieces.
    """
    min_radius = 0.35 * c.pixel
    for p, q, radius in segments:
        if c.rng.random() > in_plane:
            continue
        radius = max(radius, min_radius)
        if wall is not None:
            wall_hu, thickness = wall
            c.paint(*_tube(c, p, q, radius + thickness), wall_hu, within=within)
        c.paint(*_tube(c, p, q, radius), value, within=within)


def _bone(c: _Canvas, cx, cy, ax, ay, angle, shell, marrow_hu=TRABECULAR, within=None):
    """Cortical shell (thickness ``shell``) around a trabecular interior with a porous texture."""
    c.paint(*_ellipse(c, cx, cy, ax, ay, angle), CORTICAL + 150 * c.rng.standard_normal(), within=within)
    if ax > shell and ay > shell:
        window, mask = _ellipse(c, cx, cy, ax - shell, ay - shell, angle)
        trabeculae = marrow_hu + 220 * np.tanh(1.5 * c.fine[window])  # struts and marrow spaces
        c.paint(window, mask, trabeculae, within=within)


# ----------------------------------------------------------------------------------------------
# Anatomy


def _paint_slice(c: _Canvas) -> None:
    rng = c.rng
    region = "thorax" if rng.random() < 0.5 else "abdomen"
    phase = rng.choice(["none", "arterial", "venous"], p=[0.3, 0.3, 0.4])
    blood = {"none": 40.0, "arterial": rng.uniform(250, 350), "venous": rng.uniform(140, 190)}[phase]
    enhance = {"none": 0.0, "arterial": 25.0, "venous": 50.0}[phase]  # organ enhancement

    # Body geometry: a superellipse, flatter at the back (the patient lies on the couch).
    ax = rng.uniform(0.74, 0.9)
    ay = ax * rng.uniform(0.66, 0.8) * (1.04 if region == "thorax" else 1.0)
    cx, cy = rng.normal(0, 0.02), rng.uniform(-0.04, 0.04)
    wobble = _random_harmonics(rng, 0.05, orders=(2, 3, 4))
    fat_fraction = rng.uniform(0.05, 0.16)
    fat_wobble = _random_harmonics(rng, 0.35, orders=(1, 2, 3))

    window, x, y = c.box(cx, cy, 1.5)
    u, v = (x - cx) / ax, (y - cy) / ay
    theta = np.arctan2(v, u)
    power = np.where(v > 0, 2.8, 2.2)
    radius = (np.abs(np.cos(theta)) ** power + np.abs(np.sin(theta)) ** power) ** (-1 / power)
    radius = radius * (1 + sum(a * np.cos(k * theta + p) for k, a, p in wobble))
    rho = (np.abs(u) ** power + np.abs(v) ** power) ** (1 / power) / np.maximum(radius, 1e-6) * radius
    q = rho / radius  # 1 on the skin surface, 0 at the centre
    fat = fat_fraction * (1 + sum(a * np.cos(k * theta + p) for k, a, p in fat_wobble))
    fat = np.clip(fat, 0.025, 0.3)
    skin = 0.012 / min(ax, ay)
    muscle_wall = rng.uniform(0.05, 0.09)

    # CT couch: a curved carbon plate under the body.
    couch_y = cy + ay * 1.06 + 0.03
    couch = (np.abs(y - couch_y - 0.25 * x**2) < 0.018) & (np.abs(x) < 0.97)
    c.paint(window, couch, rng.uniform(-300, -150), texture=20)

    c.paint(window, q <= 1, SKIN, texture=6)
    c.paint(window, q <= 1 - skin, FAT, texture=12, coarse=8)
    c.paint(window, q <= 1 - skin - fat, MUSCLE, texture=10)
    cavity_q = 1 - skin - fat - muscle_wall
    c.paint(window, q <= cavity_q, FAT + 10, texture=12, coarse=10)
    cavity = c.full_mask(window, q <= cavity_q)
    body = c.full_mask(window, q <= 1)
    # Interior half-axes (approximate, with the mean fat layer): where organs may go.
    mean_cavity_q = 1 - skin - fat_fraction - muscle_wall
    ix, iy = ax * mean_cavity_q, ay * mean_cavity_q
    spine_y = cy + iy * rng.uniform(0.5, 0.62)
    spine_r = 0.085 * rng.uniform(0.85, 1.15)

    # Paraspinal muscles behind the spine, in the body wall.
    for side in (-1, 1):
        c.paint(
            *_blob(
                c,
                cx + side * spine_r * 1.25,
                spine_y + spine_r * 1.75,
                spine_r * 1.25,
                spine_r * 0.95,
                0,
                _random_harmonics(rng, 0.08),
            ),
            MUSCLE + 5,
            texture=10,
            within=body,
        )

    if region == "thorax":
        _paint_thorax(c, cx, cy, ix, iy, spine_y, spine_r, cavity, blood, enhance)
    else:
        _paint_abdomen(c, cx, cy, ix, iy, spine_y, spine_r, cavity, blood, enhance)

    _paint_spine(c, cx, spine_y, spine_r, body)
    _paint_ribs(c, cx, cy, ax, ay, q_ring=1 - skin - fat_fraction - muscle_wall * 0.5, region=region, body=body)

    # A little correlated noise inside the body, like a reconstructed scan.
    c.hu[body] += rng.uniform(4, 9) * c.noise[body]


def _paint_spine(c: _Canvas, cx, spine_y, r, body):
    rng = c.rng
    shell = 0.012
    _bone(c, cx, spine_y, r, r * 0.9, 0, shell, within=body)
    # Posterior arch: pedicles, laminae and spinous process, around the canal.
    canal_y = spine_y + r * 1.45
    c.paint(*_ellipse(c, cx, canal_y, r * 0.75, r * 0.6), CORTICAL - 200, within=body)
    c.paint(*_ellipse(c, cx, canal_y, r * 0.48, r * 0.42), WATER + 5, texture=4, within=body)  # CSF
    c.paint(*_ellipse(c, cx, canal_y, r * 0.25, r * 0.22), 35, within=body)  # cord
    _bone(c, cx, canal_y + r * 1.0, r * 0.16, r * 0.55, 0, shell * 0.8, within=body)  # spinous process
    for side in (-1, 1):
        tilt = side * rng.uniform(0.15, 0.35)
        _bone(c, cx + side * r * 1.35, spine_y + r * 0.9, r * 0.6, r * 0.2, tilt, shell * 0.8, within=body)


def _paint_ribs(c: _Canvas, cx, cy, ax, ay, q_ring, region, body):
    """Rib cross-sections in the muscle wall, plus the sternum on the thorax."""
    rng = c.rng
    count = rng.integers(6, 10) if region == "thorax" else rng.integers(3, 7)
    lo, hi = (0.2, math.pi - 0.2) if region == "thorax" else (0.0, math.pi * 0.9)
    for i in range(count):
        side = -1 if i % 2 else 1
        theta = rng.uniform(lo, hi) if region == "thorax" else rng.uniform(-0.9, 1.2)
        theta = -theta if region == "thorax" and rng.random() < 0.5 else theta
        px, py = cx + side * abs(ax * q_ring * math.cos(theta)), cy + ay * q_ring * math.sin(theta)
        along = math.atan2(py - cy, px - cx) + math.pi / 2
        size = rng.uniform(0.022, 0.035)
        _bone(c, px, py, size * rng.uniform(1.2, 2.2), size, along, 0.01, marrow_hu=400, within=body)
    if region == "thorax":
        _bone(c, cx, cy - ay * q_ring * 0.98, 0.06, 0.025, 0, 0.009, within=body)


def _paint_lung(c: _Canvas, mask, hilum, inward: float, blood: float):
    """Lung parenchyma, a vessel tree from the hilum, vessels seen end-on and an airway tree."""
    rng = c.rng
    if not mask.any():
        return
    c.hu[mask] = LUNG + 25 * c.coarse[mask] + 12 * c.fine[mask]
    vessel_hu = min(blood, 80.0)  # small lung vessels are partial-volume averaged anyway
    outward = inward + math.pi
    for _ in range(rng.integers(3, 6)):
        start = (hilum[0] + rng.normal(0, 0.02), hilum[1] + rng.normal(0, 0.04))
        direction = outward + rng.uniform(-1.3, 1.3)
        _paint_tree(
            c,
            _tree(rng, start, direction, rng.uniform(0.08, 0.13), rng.uniform(0.01, 0.018), 4, spread=(0.3, 0.9)),
            vessel_hu,
            within=mask,
            in_plane=0.55,
        )
    _paint_tree(
        c,
        _tree(rng, hilum, outward + rng.uniform(-0.8, 0.8), 0.1, 0.012, 3),
        AIR,
        within=mask,
        wall=(20.0, 0.006),
        in_plane=0.7,
    )
    # Vessels crossing the slice: dots, denser and larger near the hilum.
    for px, py in c.points_in(mask, 800)[: rng.integers(80, 160)]:
        near = math.exp(-math.hypot(px - hilum[0], py - hilum[1]) / 0.3)
        c.paint(*_ellipse(c, px, py, *(2 * [0.003 + 0.012 * near * rng.uniform(0.4, 1.2)])), vessel_hu, within=mask)


def _paint_thorax(c: _Canvas, cx, cy, ix, iy, spine_y, spine_r, cavity, blood, enhance):
    rng = c.rng
    # Heart: a large ellipse left of the midline (image right), in front; it indents the left lung.
    hx, hy = cx + ix * rng.uniform(0.08, 0.2), cy - iy * rng.uniform(0.0, 0.2)
    h_ax, h_ay = ix * rng.uniform(0.3, 0.4), iy * rng.uniform(0.38, 0.5)
    h_angle = rng.uniform(-0.6, -0.2)
    mediastinum = c.full_mask(*_ellipse(c, hx, hy, h_ax * 1.2, h_ay * 1.2, h_angle))
    mediastinum |= c.full_mask(*_ellipse(c, cx, spine_y - spine_r, spine_r * 1.6, iy * 0.8))
    # Lungs: two lobulated blobs filling each side of the chest, kept off the chest wall (pleura).
    inside = ndimage.binary_erosion(cavity, iterations=max(1, round(0.012 / c.pixel)))
    for side in (-1, 1):
        window, mask = _blob(
            c,
            cx + side * ix * rng.uniform(0.45, 0.55),
            cy + iy * rng.uniform(-0.05, 0.1),
            ix * rng.uniform(0.48, 0.58),
            iy * rng.uniform(0.8, 0.95),
            side * rng.uniform(0, 0.2),
            _random_harmonics(rng, 0.1),
        )
        lung = c.full_mask(window, mask) & inside & ~mediastinum
        hilum = (cx + side * rng.uniform(0.12, 0.17), cy + rng.uniform(-0.05, 0.12))
        _paint_lung(c, lung, hilum, inward=math.pi if side > 0 else 0.0, blood=blood)
    # Heart: pericardial fat, myocardium, chambers (blood).
    c.paint(*_ellipse(c, hx, hy, h_ax * 1.1, h_ay * 1.1, h_angle), FAT, texture=10, within=cavity)
    c.paint(*_ellipse(c, hx, hy, h_ax, h_ay, h_angle), MUSCLE + 5 + enhance * 0.5, texture=8, within=cavity)
    for _ in range(rng.integers(2, 4)):
        ox, oy = rng.normal(0, h_ax * 0.25), rng.normal(0, h_ay * 0.25)
        c.paint(
            *_blob(
                c,
                hx + ox,
                hy + oy,
                h_ax * rng.uniform(0.3, 0.45),
                h_ay * rng.uniform(0.3, 0.45),
                rng.uniform(0, math.pi),
                _random_harmonics(rng, 0.1),
            ),
            blood,
            texture=6,
            within=cavity,
        )
    # Great vessels and esophagus in the mediastinum.
    aorta_r = rng.uniform(0.045, 0.06)
    c.paint(
        *_ellipse(c, cx + spine_r * 1.2, spine_y - spine_r * 1.5, aorta_r, aorta_r), blood, texture=5, within=cavity
    )
    c.paint(
        *_ellipse(c, cx - ix * 0.05, hy - h_ay * 0.9, aorta_r * 1.1, aorta_r * 1.1), blood, texture=5, within=cavity
    )
    eso = (cx - spine_r * 0.4, spine_y - spine_r * 1.45)
    c.paint(*_ellipse(c, *eso, 0.028, 0.022), MUSCLE, texture=6, within=cavity)
    c.paint(*_ellipse(c, *eso, 0.008, 0.006), AIR, within=cavity)
    # Trachea (upper slices) or the two main bronchi (at the carina).
    if rng.random() < 0.5:
        tr = (cx, spine_y - spine_r * 2.6)
        c.paint(*_ellipse(c, *tr, 0.06, 0.055), 30, within=cavity)
        c.paint(*_ellipse(c, *tr, 0.05, 0.045), AIR, within=cavity)
    else:
        for side in (-1, 1):
            br = (cx + side * 0.07, spine_y - spine_r * 2.4)
            c.paint(*_ellipse(c, *br, 0.035, 0.03), 30, within=cavity)
            c.paint(*_ellipse(c, *br, 0.026, 0.022), AIR, within=cavity)


def _paint_abdomen(c: _Canvas, cx, cy, ix, iy, spine_y, spine_r, cavity, blood, enhance):
    rng = c.rng
    fine, coarse = 10.0, 6.0
    # Lung bases behind the liver and spleen in upper slices.
    if rng.random() < 0.4:
        for side in (-1, 1):
            window, mask = _blob(
                c, cx + side * ix * 0.62, cy + iy * 0.55, ix * 0.32, iy * 0.28, side * 0.5, _random_harmonics(rng, 0.12)
            )
            base = c.full_mask(window, mask) & cavity
            _paint_lung(
                c, base, (cx + side * ix * 0.4, cy + iy * 0.3), inward=math.pi if side > 0 else 0.0, blood=blood
            )
    # Psoas muscles beside the vertebra.
    for side in (-1, 1):
        c.paint(
            *_ellipse(c, cx + side * spine_r * 1.7, spine_y - spine_r * 0.1, spine_r * 0.75, spine_r * 0.9, side * 0.3),
            MUSCLE,
            texture=fine,
            within=cavity,
        )
    # Liver on the patient's right (image left), with vessel trees and a gallbladder.
    lx, ly = cx - ix * rng.uniform(0.35, 0.5), cy - iy * rng.uniform(-0.05, 0.15)
    liver_win, liver_mask = _blob(
        c,
        lx,
        ly,
        ix * rng.uniform(0.45, 0.6),
        iy * rng.uniform(0.6, 0.8),
        rng.uniform(-0.4, 0.2),
        _random_harmonics(rng, 0.18),
    )
    liver = c.full_mask(liver_win, liver_mask) & cavity
    c.hu[liver] = 60 + enhance + fine * c.fine[liver] + coarse * c.coarse[liver]
    portal = blood if blood > 100 else 45.0
    hepatic = blood * 0.7 if blood > 100 else 30.0
    for value in (portal, hepatic):
        for _ in range(rng.integers(2, 4)):
            start = (lx + ix * 0.2 + rng.normal(0, 0.04), ly + rng.normal(0, 0.08))
            _paint_tree(c, _tree(rng, start, math.pi + rng.uniform(-1.2, 1.2), 0.1, 0.014, 4), value, within=liver)
    if rng.random() < 0.6:
        c.paint(
            *_ellipse(c, lx + ix * 0.2, ly + iy * 0.25, 0.05, 0.032, rng.uniform(0, 1)), WATER, texture=3, within=liver
        )
    # Spleen: posterior-lateral on the patient's left.
    c.paint(
        *_blob(
            c,
            cx + ix * rng.uniform(0.55, 0.7),
            cy + iy * rng.uniform(0.15, 0.35),
            ix * 0.2,
            iy * 0.3,
            rng.uniform(-0.8, -0.3),
            _random_harmonics(rng, 0.15),
        ),
        50 + enhance * 1.2,
        texture=fine,
        coarse=coarse,
        within=cavity,
    )
    # Kidneys: cortex, medulla, sinus fat opening medially.
    for side in (-1, 1):
        kx, ky = cx + side * spine_r * rng.uniform(2.3, 3.0), spine_y - spine_r * rng.uniform(0.0, 0.6)
        k_ax, k_ay, tilt = rng.uniform(0.075, 0.1), rng.uniform(0.055, 0.075), side * rng.uniform(0.3, 0.8)
        if rng.random() < 0.85:
            c.paint(*_ellipse(c, kx, ky, k_ax * 1.25, k_ay * 1.25, tilt), FAT - 10, texture=8, within=cavity)
            c.paint(*_ellipse(c, kx, ky, k_ax, k_ay, tilt), 35 + enhance * 2.2, texture=6, within=cavity)
            c.paint(*_ellipse(c, kx, ky, k_ax * 0.7, k_ay * 0.65, tilt), 30 + enhance * 1.2, texture=6, within=cavity)
            c.paint(*_ellipse(c, kx - side * k_ax * 0.45, ky, k_ax * 0.4, k_ay * 0.3, tilt), FAT, within=cavity)
    # Aorta (left-anterior of the spine) and IVC (right-anterior).
    aorta_r = rng.uniform(0.035, 0.05)
    c.paint(
        *_ellipse(c, cx + spine_r * 0.5, spine_y - spine_r * 1.5, aorta_r, aorta_r), blood, texture=5, within=cavity
    )
    c.paint(
        *_ellipse(c, cx - spine_r * 1.0, spine_y - spine_r * 1.6, aorta_r * 1.2, aorta_r * 0.8),
        portal,
        texture=5,
        within=cavity,
    )
    # Pancreas: an elongated lobulated organ across the front of the vessels.
    c.paint(
        *_blob(
            c,
            cx + ix * 0.1,
            spine_y - spine_r * 2.8,
            ix * 0.3,
            0.04,
            rng.uniform(-0.3, 0.1),
            _random_harmonics(rng, 0.2, orders=(3, 5, 7)),
        ),
        45 + enhance,
        texture=12,
        within=cavity,
    )
    # Stomach: left-anterior, wall, fluid, an air cap at the front (the patient lies supine).
    sx, sy = cx + ix * rng.uniform(0.25, 0.45), cy - iy * rng.uniform(0.2, 0.45)
    s_ax, s_ay, s_angle = ix * rng.uniform(0.18, 0.28), iy * rng.uniform(0.2, 0.3), rng.uniform(-0.5, 0.5)
    c.paint(*_ellipse(c, sx, sy, s_ax, s_ay, s_angle), MUSCLE + enhance * 0.6, texture=8, within=cavity)
    window, inner = _ellipse(c, sx, sy, s_ax * 0.82, s_ay * 0.8, s_angle)
    c.paint(window, inner, WATER + 15, texture=10, coarse=15, within=cavity)
    level = sy - s_ay * rng.uniform(0.1, 0.6)
    _, ys = np.meshgrid(c.centres[window[1]], c.centres[window[0]])
    c.paint(window, inner & (ys < level), AIR, within=cavity)
    # Bowel loops in the remaining anterior space: wall, then fluid, air or mottled stool.
    free = cavity & (c.hu < 0) & (c.hu > -200)
    anterior = free & (c.centres[:, None] < spine_y - spine_r)
    for bx, by in c.points_in(anterior, 200)[: rng.integers(6, 14)]:
        b_r = rng.uniform(0.03, 0.065)
        c.paint(
            *_ellipse(c, bx, by, b_r, b_r * rng.uniform(0.7, 1.0), rng.uniform(0, 3)),
            40 + enhance,
            texture=6,
            within=free,
        )
        content = rng.choice(["fluid", "air", "stool"], p=[0.4, 0.25, 0.35])
        window, lumen = _ellipse(c, bx, by, b_r * 0.75, b_r * 0.7, 0)
        if content == "fluid":
            c.paint(window, lumen, WATER + rng.uniform(0, 20), texture=5, within=free)
        elif content == "air":
            c.paint(window, lumen, AIR, within=free)
        else:
            mottled = np.where(c.fine[window] > 1.2, AIR, 10 + 40 * c.coarse[window])
            c.paint(window, lumen, mottled, within=free)
    # Mesenteric vessels seen end-on in the fat.
    fat = cavity & (c.hu < -50) & (c.hu > -200)
    for px, py in c.points_in(fat, 600)[: rng.integers(15, 35)]:
        c.paint(*_ellipse(c, px, py, *(2 * [rng.uniform(0.004, 0.012)])), blood, within=fat)
