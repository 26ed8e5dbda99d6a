"""Exception types. Every user-facing failure is one of these, so the CLIs can
print one readable line and exit non-zero instead of a traceback."""

from __future__ import annotations

import os
import sys


class TopicsError(Exception):
    """Base class: a problem the user can fix (bad config, data, model path)."""


class ConfigError(TopicsError, ValueError):
    """The experiment configuration is invalid."""


class DataError(TopicsError, ValueError):
    """The dataset is missing, unreadable or unusable for the configured task."""


class BundleError(TopicsError, ValueError):
    """A saved model bundle is missing, corrupt or of an unsupported format."""


class DependencyError(TopicsError, ImportError):
    """An optional library the task needs is not installed; the message names the install."""


class TrackingError(TopicsError, RuntimeError):
    """The experiment tracker (MLflow) cannot be reached or used."""


def stdout_closed() -> int:
    """The reader of stdout went away (``classify ... | head``): stop quietly.

    Points stdout at /dev/null so Python's final flush cannot fail again, and
    returns the shell's exit status for SIGPIPE.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141
