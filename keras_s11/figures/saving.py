"""Saving figures atomically."""

import os

FIGURE_FORMATS = ("png", "svg", "pdf")


def figure_format(path):
    """The file format named by `path`'s extension.

    Raises:
        ValueError: If the extension is not one of `FIGURE_FORMATS`.
    """
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if extension not in FIGURE_FORMATS:
        raise ValueError(f"cannot tell the figure format of {path}: use a .png, .svg or .pdf file name")
    return extension


def save_figure(figure, path, dpi=110):
    """Writes `figure` to `path` under a temporary name, then renames it.

    Args:
        figure: A `matplotlib.figure.Figure`.
        path: Output file; its extension (`.png`, `.svg`, `.pdf`) picks the format.
        dpi: Resolution of raster output.

    Raises:
        ValueError: If the extension names no supported format.
    """
    path = os.fspath(path)
    file_format = figure_format(path)
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.partial")
    try:
        figure.savefig(tmp, format=file_format, dpi=dpi)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
