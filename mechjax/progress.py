"""Progress bars that the caller can switch off (``progress=false``) without threading a flag
through every evaluator: :func:`enabled` sets it for a block, :func:`bar` honours it."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Optional

from tqdm.auto import tqdm

_SHOW = contextvars.ContextVar("mechjax_progress", default=True)


@contextlib.contextmanager
def enabled(show: bool):
    """Within the block, :func:`bar` shows (``show=True``) or hides its bars."""
    token = _SHOW.set(bool(show))
    try:
        yield
    finally:
        _SHOW.reset(token)


def bar(total: Optional[int] = None, desc: str = "", unit: str = "it") -> tqdm:
    """A tqdm bar (hidden when progress is off); use as a context manager and ``.update(n)``."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not _SHOW.get(), dynamic_ncols=True, leave=False)
