"""The bottom layer: the vocabulary every other layer shares, and small helpers with no home above.

Nothing here imports from the rest of `bot` or from `cards`; everything else may import from here.
"""
