"""Teams' presence icons (the green check, red dot, do-not-disturb minus, amber clock, grey cross, purple
out-of-office arrow) as small PNG images inside the card, so the card needs no image host.

Each icon is drawn once per process with Pillow at 4× and scaled down (smooth edges at Teams' 2× pixel
density), then kept as a `data:` URI; Teams and Microsoft's renderer show `data:image/png` images.
The colour says the state at a glance; the label beside it stays dark text, readable on any theme.
"""

from __future__ import annotations

import base64
import functools
import io

from PIL import Image, ImageDraw

from bot.core.states import Icon
from cards.elements import Element, Size, text

SHOWN_PX = 20  # as Teams draws presence beside a name in a card
_DRAWN_PX = SHOWN_PX * 2  # the PNG's size: sharp at 2× pixel density
_SCALE = 4  # drawn this much larger, then scaled down for smooth edges

# Teams' palette (Fluent presence colours).
_GREEN = (107, 183, 0)
_RED = (196, 49, 75)
_AMBER = (255, 170, 68)
_GREY = (138, 136, 134)
_PURPLE = (180, 0, 158)
_WHITE = (255, 255, 255)

# What the icon shows, for screen readers: the label beside it says the state itself.
ALT_TEXT: dict[Icon, str] = {
    Icon.AVAILABLE: "Green check",
    Icon.BUSY: "Red dot",
    Icon.DO_NOT_DISTURB: "Red circle with a minus",
    Icon.AWAY: "Amber clock",
    Icon.OFFLINE: "Grey cross",
    Icon.OUT_OF_OFFICE: "Purple arrow",
    Icon.UNKNOWN: "Grey circle",
}


def icon_image(which: Icon, *, alt: str | None = None) -> Element:
    """An Image element showing `which` at Teams' size; `alt` (default: the icon's description)."""
    return {
        "type": "Image",
        "url": data_uri(which),
        "altText": alt or ALT_TEXT[which],
        "width": f"{SHOWN_PX}px",
        "height": f"{SHOWN_PX}px",
    }


@functools.cache
def data_uri(which: Icon) -> str:
    return "data:image/png;base64," + base64.b64encode(png(which)).decode("ascii")


def png(which: Icon) -> bytes:
    size = _DRAWN_PX * _SCALE
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    _draw(ImageDraw.Draw(image), which, size)
    buffer = io.BytesIO()
    image.resize((_DRAWN_PX, _DRAWN_PX), Image.Resampling.LANCZOS).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _draw(draw: ImageDraw.ImageDraw, which: Icon, size: int) -> None:
    box = (1, 1, size - 2, size - 2)
    stroke = size // 9  # the white marks and the ring
    c = size / 2
    if which in {Icon.OFFLINE, Icon.UNKNOWN}:
        draw.ellipse(box, fill=_WHITE, outline=_GREY, width=stroke)
        if which is Icon.OFFLINE:
            arm = size * 0.2
            for dx in (arm, -arm):
                draw.line((c - dx, c - arm, c + dx, c + arm), fill=_GREY, width=stroke)
        return
    fill = {
        Icon.AVAILABLE: _GREEN,
        Icon.BUSY: _RED,
        Icon.DO_NOT_DISTURB: _RED,
        Icon.AWAY: _AMBER,
        Icon.OUT_OF_OFFICE: _PURPLE,
    }[which]
    draw.ellipse(box, fill=fill)
    if which is Icon.AVAILABLE:  # a check mark
        points = [(size * 0.28, size * 0.52), (size * 0.44, size * 0.67), (size * 0.72, size * 0.36)]
        draw.line(points, fill=_WHITE, width=stroke, joint="curve")
    elif which is Icon.DO_NOT_DISTURB:  # a minus
        draw.line((size * 0.28, c, size * 0.72, c), fill=_WHITE, width=stroke)
    elif which is Icon.AWAY:  # clock hands: up, then right
        draw.line(
            [(c, size * 0.26), (c, c), (size * 0.68, size * 0.6)], fill=_WHITE, width=stroke, joint="curve"
        )
    elif which is Icon.OUT_OF_OFFICE:  # an arrow pointing left
        draw.line((size * 0.3, c, size * 0.72, c), fill=_WHITE, width=stroke)
        draw.line(
            [(size * 0.48, size * 0.3), (size * 0.28, c), (size * 0.48, size * 0.7)],
            fill=_WHITE,
            width=stroke,
            joint="curve",
        )


def labelled(which: Icon, label: str, *, size: Size = "large", element_id: str | None = None) -> Element:
    """The icon, then the state's name in dark bold text, as Teams shows presence beside a name."""
    columns: Element = {
        "type": "ColumnSet",
        "spacing": "none",
        "columns": [
            {
                "type": "Column",
                "width": "auto",
                "verticalContentAlignment": "center",
                "items": [icon_image(which)],
            },
            {
                "type": "Column",
                "width": "stretch",
                "verticalContentAlignment": "center",
                "items": [text(label, size=size, bold=True)],
            },
        ],
    }
    if element_id is not None:
        columns["id"] = element_id
    return columns
