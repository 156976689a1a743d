"""Argument types and the output-path check the subcommands share."""

import argparse
import math

from invsolve.catalog import MAX_IMAGE_SIDE


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (and exit 2) like every other input error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def window(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"window must be LOW,HIGH (e.g. -1000,1000), got {text!r}") from None
    return lo, hi


#: Seeds feed torch.Generator.manual_seed, which takes a 64-bit integer.
SEED_LIMIT = 2**63


def seed(text: str) -> int:
    value = _number(int, text, "an integer seed")
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"a seed must lie in 0..2^63-1, got {text}")
    return value


def positive_int(text: str) -> int:
    value = _number(int, text, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def image_side(text: str) -> int:
    value = positive_int(text)
    if value > MAX_IMAGE_SIDE:
        raise argparse.ArgumentTypeError(f"an image side of at most {MAX_IMAGE_SIDE} pixels, got {text}")
    return value


def count(text: str) -> int:
    value = _number(int, text, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def slab(text: str) -> tuple[int, int]:
    """START:STOP, consecutive slices START to STOP - 1 of a volume."""
    start, sep, stop = text.partition(":")
    first, last = _number(int, start, "START:STOP"), _number(int, stop, "START:STOP") if sep else -1
    if not 0 <= first < last:
        raise argparse.ArgumentTypeError(f"must be START:STOP with 0 <= START < STOP, got {text!r}")
    return first, last


def positive(text: str) -> float:
    value = _number(float, text, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def non_negative(text: str) -> float:
    value = _number(float, text, "a number")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more, got {text}")
    return value


def fraction(text: str) -> float:
    value = _number(float, text, "a number")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in 0..1, got {text}")
    return value


def _number(kind, text: str, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def names(text: str) -> list[str]:
    """``a,b`` as ["a", "b"]; a list that names nothing (``,``) selects nothing, so it is refused."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    if not chosen:
        raise argparse.ArgumentTypeError(f"expected one or more comma-separated names, got {text!r}")
    return chosen


def choices(text: str) -> dict[str, list]:
    """``NAME=V1,V2,...`` as {NAME: [V1, V2, ...]}, values as numbers where they are."""
    from invsolve.solvers.settings import parse_value

    name, sep, values = text.partition("=")
    listed = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not name.strip() or len(listed) < 2:
        raise argparse.ArgumentTypeError(f"expected NAME=V1,V2,... with two values or more, got {text}")
    return {name.strip(): [parse_value(v) for v in listed]}


def braced(names) -> str:
    """``{a,b,c}``: how argparse shows a choice, for options whose values are checked later."""
    return "{" + ",".join(names) + "}"
