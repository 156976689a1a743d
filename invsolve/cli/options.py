"""Argument types and the output-path check the subcommands share."""

import argparse


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
    return [name.strip() for name in text.split(",") if name.strip()]


def braced(names) -> str:
    """``{a,b,c}``: how argparse shows a choice, for options whose values are checked later."""
    return "{" + ",".join(names) + "}"


def parse_value(text: str):
    """An int or a float where the text is one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def settings_from(assignments: list[str]) -> dict:
    """``["steps=50", "schedule=edm"]`` as ``{"steps": 50, "schedule": "edm"}``."""
    return {name.strip(): parse_value(value.strip()) for name, _, value in (a.partition("=") for a in assignments)}
