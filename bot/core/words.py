"""How lists are said in a sentence: "Megan", "Megan and Adele", "Megan, Adele or Isaiah"."""

from __future__ import annotations

from collections.abc import Iterable


def spoken_list(items: Iterable[str], conjunction: str = "and") -> str:
    """`items` joined as a person writes them: commas, then `conjunction` before the last."""
    words = list(items)
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
