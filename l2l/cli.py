"""One way for command-line entry points to report an l2l error: a line, not a traceback.

`run(main)` calls `main(argv)` and exits with its return value. An `l2l.errors.L2LError`
(missing data, a bad option value, a refused checkpoint, a non-finite loss, ...) is a mistake
the user can fix, not a bug: it is printed as `prog: error: message` plus a hint, and the
process exits with status 2, like argparse's usage errors. `--debug` anywhere on the command
line (or `L2L_DEBUG=1`) shows the full traceback instead; any other exception is a bug and
always shows it. `add_debug_flag(parser)` lists `--debug` in `--help`.

    if __name__ == "__main__":
        l2l.cli.run(main)          # main(argv: list[str]) -> int | None

Example:

>>> from l2l.cli import run
>>> from l2l.errors import invalid_value
>>> def main(argv):
...     raise invalid_value("shots", 0, "an integer >= 1")
>>> run(main, ["--shots", "0"], prog="demo")
Traceback (most recent call last):
...
SystemExit: 2
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from l2l.errors import L2LError

DEBUG_FLAG = "--debug"
EXIT_USER_ERROR = 2


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """List `--debug` in `parser`'s help (`run` reads it; the parser then ignores it)."""
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help="show the full Python traceback of an error")


def run(main: Callable[[list[str]], int | None], argv: list[str] | None = None,
        prog: str | None = None) -> None:
    """Call `main(argv)` (default `sys.argv[1:]`) and exit with its status.

    An `L2LError` prints one `prog: error: ...` line and a hint on stderr and exits with 2,
    unless `--debug` is in `argv` or `L2L_DEBUG=1`, which re-raise it with its traceback.
    `--debug` is passed on to `main` untouched (see `add_debug_flag`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or os.path.basename(sys.argv[0] or "l2l")
    debug = DEBUG_FLAG in argv or os.environ.get("L2L_DEBUG", "") not in ("", "0")
    try:
        status = main(argv)
    except L2LError as error:
        if debug:
            raise
        print(f"{prog}: error: {error}\n(run again with {DEBUG_FLAG} to see the traceback)",
              file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    sys.exit(status or 0)
