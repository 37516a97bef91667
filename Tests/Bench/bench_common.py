"""What both benchmark scripts share: their error types and their log."""

import sys


class SetupError(Exception):
    """The benchmark could not be set up (missing binary, clip generation failed)."""


class ToolFailure(Exception):
    """A measured tool failed (non-zero exit, timeout, missing output)."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)
