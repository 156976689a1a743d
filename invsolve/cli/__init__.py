"""The ``invsolve`` command line: one module per subcommand (reconstruct, data, train, sample, bench).

    invsolve reconstruct --op ct8 [--prior padis | --solver admm-tv] [--input FILE] [--json]

The parser is built from names that need no torch (``invsolve.catalog``), so ``--help`` and usage
errors answer at once; a subcommand imports the heavy parts only when it runs. Bad input gives one
line on stderr and exit status 2; outputs are written atomically.
"""

import argparse
import sys
import warnings

from invsolve.cli import bench, data, reconstruct, sample, train
from invsolve.cli.options import Parser
from invsolve.errors import GenericSettingsNotice, InvsolveError

SUBCOMMANDS = {"reconstruct": reconstruct, "data": data, "train": train, "sample": sample, "bench": bench}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="invsolve", description="Reconstruct images from incomplete, noisy measurements.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in SUBCOMMANDS.values():
        module.add_parser(commands)
    return parser


def _print_notice(message, category, filename, lineno, file=None, line=None):
    """Our notices as one line on stderr; everything else as Python shows it."""
    if issubclass(category, GenericSettingsNotice):
        print(f"invsolve: notice: {message}", file=sys.stderr)
    else:
        _show_warning(message, category, filename, lineno, file, line)


_show_warning = warnings.showwarning


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _print_notice
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
    except KeyboardInterrupt:
        print("invsolve: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = _show_warning
