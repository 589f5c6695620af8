"""Figures in a world: the warm-up drawing, rendering what a cell left open, and pyplot's stand-in for
replays (a test cell's world, where nothing is shown)."""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import sys
from typing import Any

import state


def skip_layout_when_quiet() -> None:
    """Laying a figure out (tight_layout: measuring every tick label and title) is skipped when nothing
    is drawn: it returns None and only moves the axes, so no value the student's code computes changes.
    In a replay for a test cell it was most of the cells' time."""
    from matplotlib.figure import Figure

    original = Figure.tight_layout

    @functools.wraps(original)
    def tight_layout(*args: Any, **kwargs: Any) -> None:
        if not state.Quiet.now:
            original(*args, **kwargs)

    Figure.tight_layout = tight_layout


def draw_once(plt: Any) -> None:
    """Draw and save one figure with text, maths and a legend, so fonts and renderers load before fork."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(5, 3))
    left.plot([0, 1], [0, 1], label=r"$\sigma(z) = \frac{1}{1 + e^{-z}}$")
    left.bar([0, 1], [1, 2])
    left.scatter([0, 1], [1, 0])
    left.contour([[0, 1], [1, 0]])
    left.set_title("warm-up")
    left.set_xlabel("z")
    left.legend()
    left.grid(True)
    right.imshow([[0, 1], [1, 0]])
    right.text(0, 0, "0.5")
    fig.tight_layout()
    fig.savefig(io.BytesIO(), format="png", dpi=72)
    plt.close("all")


def use_backend(name: str) -> None:
    """A replay (for a test cell) draws nothing: matplotlib's template backend lays text out at no cost."""
    import matplotlib.pyplot as plt

    if isinstance(plt, _PyplotStandIn):
        return
    if plt.get_backend().lower() != name.lower():
        plt.switch_backend(name)
        plt.show = lambda *args, **kwargs: None


class _Nothing:
    """Any matplotlib object, in a replay with pyplot's stand-in: every attribute, call and item of it is
    itself again, iterating it gives it once, and it works as a context manager. Nothing is built."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def __getitem__(self, key: Any) -> Any:
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __iter__(self) -> Any:
        return iter((self,))

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exception: Any) -> bool:
        return False


_NOTHING = _Nothing()


class _PyplotStandIn(type(sys)):
    """matplotlib.pyplot as a test cell's replay sees it, where no figure is ever shown: every function
    returns `_Nothing`; subplots gives the grid of axes its arguments ask for; there are no figures.

    Only for a replay: a cell that then goes otherwise than it went (raises where it did not) makes the
    trusted side replay again with matplotlib itself, and so does a test that fails.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _NOTHING

    @staticmethod
    def subplots(nrows: int = 1, ncols: int = 1, *args: Any, squeeze: bool = True, **kwargs: Any) -> Any:
        import numpy as np

        axes = np.empty((int(nrows), int(ncols)), dtype=object)
        for index in np.ndindex(axes.shape):
            axes[index] = _NOTHING
        if squeeze:
            axes = axes.item() if axes.size == 1 else axes.ravel() if 1 in axes.shape else axes
        return _NOTHING, axes

    @staticmethod
    def get_fignums() -> list[int]:
        return []


def stand_in_for_pyplot() -> None:
    """From now on `import matplotlib.pyplot` gives the stand-in (a test cell's world, before its replay)."""
    import matplotlib

    if not isinstance(sys.modules.get("matplotlib.pyplot"), _PyplotStandIn):
        stand_in = _PyplotStandIn("matplotlib.pyplot")
        sys.modules["matplotlib.pyplot"] = stand_in
        matplotlib.pyplot = stand_in


def collect(render: bool = True) -> list[str]:
    """PNG images of the figures the cell left open (closed afterwards)."""
    import matplotlib.pyplot as plt

    images = []
    for number in plt.get_fignums()[:state.Output.figures] if render else []:
        buffer = io.BytesIO()
        with contextlib.suppress(Exception), _no_idle_layout(plt.figure(number)) as figure:
            figure.savefig(buffer, format="png", dpi=72)
            if buffer.tell() <= state.Output.figure_bytes:
                images.append(base64.b64encode(buffer.getvalue()).decode())
    plt.close("all")
    return images


@contextlib.contextmanager
def _no_idle_layout(figure: Any):
    """After `tight_layout` a figure keeps a layout engine that does nothing (PlaceHolderLayoutEngine),
    and savefig draws such a figure twice: once for its layout engine, once to render. Without the
    idle engine it is drawn once, into the same pixels (a quarter of what such a figure cost)."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    engine = figure.get_layout_engine()
    idle = type(engine) is PlaceHolderLayoutEngine
    if idle:
        figure._layout_engine = None  # no public way: set_layout_engine(None) may pick rcParams' engine
    try:
        yield figure
    finally:
        if idle:
            figure._layout_engine = engine

