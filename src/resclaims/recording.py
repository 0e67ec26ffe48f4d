"""The results of ``verify`` calls made while a pytest test runs.

The pytest plugin opens a log around each test's call (:func:`collecting`); ``verify``
adds every Result to the open log (:func:`record`), so the plugin can put margins into
the test's ``user_properties`` and count the examples for its statistics.  Outside a
log, recording does nothing.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from resclaims.engine import Result

_LOG: ContextVar[list[Result] | None] = ContextVar("resclaims_results", default=None)


def record(result: Result) -> None:
    """Add ``result`` to the open log, if any."""
    log = _LOG.get()
    if log is not None:
        log.append(result)


@contextmanager
def collecting() -> Iterator[list[Result]]:
    """A log of the results recorded in the body, in order."""
    log: list[Result] = []
    token = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(token)
