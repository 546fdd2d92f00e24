"""Typed exceptions of the ``progress`` library.

Every error that a user can cause (a bad file, an impossible alignment, a wrong
argument) is one of these, with a message that says what went wrong and how to fix it.
"""

from __future__ import annotations


class ProgressError(Exception):
    """Base class of every error raised on purpose by ``progress``."""


class ImageError(ProgressError, ValueError):
    """A file could not be read as a photo.

    The message names the file and the reason (not an image, truncated, too many
    pixels, unsupported kind).
    """


class AlignmentError(ProgressError, ValueError):
    """Two photos could not be put into correspondence (e.g. too few point pairs)."""


class ColourError(ProgressError, ValueError):
    """Colour normalisation was impossible (no usable reference region or chart)."""


class StoreError(ProgressError):
    """The data store refused an operation (unknown id, integrity problem)."""


class RegionError(ProgressError, ValueError):
    """The region of interest is empty or too small to measure."""
