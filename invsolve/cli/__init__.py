"""The ``invsolve`` command line: one module per subcommand (reconstruct, data, train, sample, bench).

    invsolve reconstruct --op ct8 [--prior padis | --solver admm-tv] [--input FILE] [--json]

The parser is built from names that need no torch (``invsolve.catalog``), so ``--help`` and usage
errors answer at once; a subcommand imports the heavy parts only when it runs. Bad input gives one
line on stderr and exit status 2; outputs are written atomically.
"""

import argparse
import re
import signal
import sys
import warnings

from invsolve.cli import bench, data, reconstruct, sample, train
from invsolve.cli.options import Parser
from invsolve.errors import InvsolveError, Notice

SUBCOMMANDS = {"reconstruct": reconstruct, "data": data, "train": train, "sample": sample, "bench": bench}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="invsolve", description="Reconstruct images from incomplete, noisy measurements.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in SUBCOMMANDS.values():
        module.add_parser(commands)
    return parser


def _print_notice(message, category, filename, lineno, file=None, line=None):
    """Our notices as one line on stderr; everything else as Python shows it."""
    if issubclass(category, Notice):
        print(f"invsolve: notice: {message}", file=sys.stderr)
    else:
        _show_warning(message, category, filename, lineno, file, line)


_show_warning = warnings.showwarning


def _out_of_memory(err: BaseException) -> bool:
    """numpy's MemoryError, torch's OutOfMemoryError (CUDA) and its CPU allocator's RuntimeError."""
    text = str(err)
    return (
        isinstance(err, MemoryError)
        or type(err).__name__ == "OutOfMemoryError"
        or "can't allocate memory" in text
        or "out of memory" in text.lower()
    )


def _allocation(err: BaseException) -> str:
    """How much the failed allocation asked for, where the library says so."""
    found = re.search(r"allocate (\d+) bytes", str(err))
    if found:
        return f"an allocation of {int(found.group(1)) / 2**30:,.1f} GiB failed"
    found = re.search(r"allocate ([\d.]+ [KMGTP]i?B)", str(err))
    return f"an allocation of {found.group(1)} failed" if found else "an allocation failed"


def _terminated(signum, frame):
    """SIGTERM (a job scheduler, ``kill``, a container stop) ends a run as Ctrl-C does: the same
    clean-up of temporary files and folders, earlier outputs kept."""
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _print_notice
    previous = signal.signal(signal.SIGTERM, _terminated) if _main_thread() else None
    try:
        return SUBCOMMANDS[args.command].run(args, argv if argv is not None else sys.argv[1:])
    except InvsolveError as err:
        print(f"invsolve {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a folder that became read-only: what failed, where, in one line
        where = f": {err.filename}" if err.filename else ""
        print(
            f"invsolve {args.command}: error: {err.strerror or err}{where}; check the path, its permissions "
            "and the free disk space",
            file=sys.stderr,
        )
        return 2
    except (MemoryError, RuntimeError) as err:
        if not _out_of_memory(err):
            raise
        print(
            f"invsolve {args.command}: error: not enough memory for this run ({_allocation(err)}); use a smaller "
            "--image-size, batch or count, or a machine with more memory",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("invsolve: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = _show_warning
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    """Signal handlers can only be set from the main thread (a test runner may call main elsewhere)."""
    import threading

    return threading.current_thread() is threading.main_thread()
