"""Logging for the command line: structlog to stderr, only when asked (``-v``).

The engine logs through structlog only once the host has configured it, so a
library user sees nothing unless they opt in; the CLI opts in with ``-v``.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(verbosity: int) -> None:
    """``-v`` logs info, ``-vv`` debug, as key=value lines on stderr."""
    level = logging.DEBUG if verbosity > 1 else logging.INFO
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
