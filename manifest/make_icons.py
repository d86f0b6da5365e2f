"""Draw the two Teams app icons, deterministically; Pillow writes the PNG files.

    python manifest/make_icons.py            # rewrites manifest/color.png and manifest/outline.png

The glyph is a person with a presence badge (the dot Teams puts on an avatar):
- ``color.png``: 192×192, a white person and a green "Available" badge on the accent colour, the glyph
  inside the central 96×96 area Teams' icon guidelines ask for;
- ``outline.png``: 32×32, the same glyph in white on a transparent background (only white pixels and
  alpha; the badge is separated from the person by a transparent gap, as an outline has one colour).

Edges are anti-aliased by 4×4 supersampling. No randomness and no clock: the same pixels every run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from PIL import Image

ACCENT = (0x4F, 0x52, 0xB2)  # background of color.png; the manifest's accentColor is the same
WHITE = (0xFF, 0xFF, 0xFF)
AVAILABLE_GREEN = (0x6B, 0xB7, 0x00)  # Teams' "Available" badge

COLOR_SIZE = 192
OUTLINE_SIZE = 32
SUPERSAMPLE = 4

# The glyph in unit coordinates (0..1 across its box).
_HEAD = (0.42, 0.30, 0.17)  # centre x, centre y, radius
_BODY = (0.42, 0.88, 0.34, 0.31)  # centre x, centre y, radius x, radius y: its upper half is the shoulders
_BADGE = (0.78, 0.78, 0.17)  # the presence dot
_BADGE_GAP = 0.24  # radius of the transparent/background ring cut around the dot


def _in_circle(x: float, y: float, cx: float, cy: float, r: float) -> bool:
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _in_person(x: float, y: float) -> bool:
    hx, hy, hr = _HEAD
    bx, by, brx, bry = _BODY
    head = _in_circle(x, y, hx, hy, hr)
    shoulders = y <= by and ((x - bx) / brx) ** 2 + ((y - by) / bry) ** 2 <= 1.0
    return head or shoulders


def _in_badge(x: float, y: float) -> bool:
    return _in_circle(x, y, *_BADGE)


def _in_badge_gap(x: float, y: float) -> bool:
    return _in_circle(x, y, _BADGE[0], _BADGE[1], _BADGE_GAP)


Sampler = Callable[[float, float], tuple[int, int, int, int]]


def _render(size: int, sample: Sampler) -> bytes:
    """RGBA rows (no filter bytes) of a `size`×`size` image, each pixel the mean of its subsamples."""
    out = bytearray()
    n = SUPERSAMPLE
    for py in range(size):
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(n):
                for sx in range(n):
                    r, g, b, a = sample((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            alpha_sum = acc[3]
            if alpha_sum == 0:
                out += bytes((255, 255, 255, 0))  # transparent pixels are white too: outline rule
                continue
            out += bytes(
                (
                    round(acc[0] / alpha_sum),
                    round(acc[1] / alpha_sum),
                    round(acc[2] / alpha_sum),
                    round(alpha_sum / (n * n)),
                )
            )
    return bytes(out)


def _glyph_box(u: float, v: float, origin: float, extent: float) -> tuple[float, float]:
    return (u - origin) / extent, (v - origin) / extent


def color_pixels() -> bytes:
    """RGBA pixels of color.png (fully opaque)."""
    origin, extent = 0.25, 0.5  # the glyph fills the central 96×96 of 192×192

    def sample(u: float, v: float) -> tuple[int, int, int, int]:
        x, y = _glyph_box(u, v, origin, extent)
        if _in_badge(x, y):
            return (*AVAILABLE_GREEN, 255)
        if _in_person(x, y) and not _in_badge_gap(x, y):
            return (*WHITE, 255)
        return (*ACCENT, 255)

    return _render(COLOR_SIZE, sample)


def outline_pixels() -> bytes:
    """RGBA pixels of outline.png: white, with alpha for the shape and its anti-aliased edge."""

    def sample(x: float, y: float) -> tuple[int, int, int, int]:
        if _in_badge(x, y) or (_in_person(x, y) and not _in_badge_gap(x, y)):
            return (*WHITE, 255)
        return (*WHITE, 0)

    return _render(OUTLINE_SIZE, sample)


def encode_png(width: int, height: int, rgba: bytes, *, alpha: bool) -> bytes:
    """An 8-bit PNG: RGBA when `alpha`, else RGB with the alpha dropped."""
    image = Image.frombytes("RGBA", (width, height), rgba)
    if not alpha:
        image = image.convert("RGB")  # drops the alpha channel (every pixel here is opaque anyway)
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def main(out_dir: Path | None = None) -> None:
    target = out_dir or Path(__file__).resolve().parent
    target.mkdir(parents=True, exist_ok=True)
    (target / "color.png").write_bytes(encode_png(COLOR_SIZE, COLOR_SIZE, color_pixels(), alpha=False))
    (target / "outline.png").write_bytes(encode_png(OUTLINE_SIZE, OUTLINE_SIZE, outline_pixels(), alpha=True))
    print(f"wrote {target / 'color.png'} and {target / 'outline.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
