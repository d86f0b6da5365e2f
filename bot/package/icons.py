"""The Teams app icons, checked as Teams admin center checks them on upload (read with Pillow).

- `color.png`: a PNG of 192×192 pixels;
- `outline.png`: a PNG of 32×32 pixels with transparency, whose every visible pixel is white.
"""

from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageChops, UnidentifiedImageError

from bot.package.errors import PackageError

COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
COLOR_ICON_SIZE = 192
OUTLINE_ICON_SIZE = 32

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_NONZERO = [0] + [255] * 255  # a `point` table: 0 stays 0, anything else becomes 255


def read_png(data: bytes) -> Image.Image:
    """The PNG in `data`, every chunk checked (CRCs, through IEND); `PackageError` if it is not one.

    Its pixels are decoded on first use (`load()`, `convert()`, `tobytes()`…); `decoded()` maps a
    failure there to `PackageError`.
    """
    try:
        with Image.open(BytesIO(data), formats=["PNG"]) as probe:
            probe.verify()  # reads every chunk after the header ones and checks its CRC
        return Image.open(BytesIO(data), formats=["PNG"])
    except UnidentifiedImageError:
        raise PackageError("not a PNG file, or one whose header is damaged") from None
    except SyntaxError as error:  # Pillow's word for a chunk that does not add up
        raise PackageError(f"PNG has a broken chunk or a bad CRC: {error}") from None
    except (OSError, ValueError) as error:
        raise PackageError(f"PNG is truncated or unreadable: {error}") from None


def decoded(image: Image.Image) -> Image.Image:
    """`image` with its pixels decoded; `PackageError` when its image data is corrupt."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise PackageError(f"PNG image data is corrupt: {error}") from None
    return image


def has_transparency(image: Image.Image) -> bool:
    """An alpha channel, or a PNG tRNS chunk (a transparent palette entry or colour)."""
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _read_icon(name: str, data: bytes, size: int) -> Image.Image:
    try:
        image = read_png(data)
    except PackageError as error:
        raise PackageError(f"{name}: {error}") from None
    width, height = image.size
    if (width, height) != (size, size):  # checked before any pixel is decoded
        raise PackageError(f"{name} is {width}×{height}; Teams requires {size}×{size}")
    try:
        return decoded(image)
    except PackageError as error:
        raise PackageError(f"{name}: {error}") from None


def check_color_icon(data: bytes) -> Image.Image:
    """color.png: a PNG of 192×192 pixels."""
    return _read_icon(COLOR_ICON, data, COLOR_ICON_SIZE)


def check_outline_icon(data: bytes) -> Image.Image:
    """outline.png: a 32×32 PNG with transparency whose every visible pixel is white."""
    image = _read_icon(OUTLINE_ICON, data, OUTLINE_ICON_SIZE)
    if not has_transparency(image):
        width, height = image.size
        raise PackageError(
            f"{OUTLINE_ICON} is a {width}×{height} {image.mode} PNG with no transparency; Teams requires "
            "white on a transparent background (save it as RGBA)"
        )
    rgba = image.convert("RGBA")
    visible = rgba.getchannel("A").point(_NONZERO)
    if visible.getbbox() is None:
        raise PackageError(f"{OUTLINE_ICON} is fully transparent")
    red, green, blue = (ImageChops.invert(rgba.getchannel(band)) for band in "RGB")  # 0 where 255
    not_white = ImageChops.lighter(ImageChops.lighter(red, green), blue).point(_NONZERO)
    stray = ImageChops.darker(not_white, visible)  # 255 where a visible pixel is not white
    box = stray.getbbox()
    if box is not None:
        y = box[1]  # the first row with one; then the first such pixel in that row
        row = stray.crop((0, y, stray.width, y + 1)).getbbox()
        assert row is not None
        raise PackageError(
            f"{OUTLINE_ICON} has a non-white pixel at ({row[0]}, {y}); Teams requires only white "
            "and transparent pixels"
        )
    return image
