"""Arguments from outside, checked once where they enter, against the annotations of the function
that takes them.

pydantic validates each value in strict mode: 2.5 is not an integer, "8" is not a number, True is
not a count, NaN and infinity are not numbers. A value that fails is refused with one line naming
the argument, what it must be and what was given, as an ``InvsolveError``; nothing is converted.
Tensors are checked by ``check_image``: floating point, finite, values in [0, 1].
"""

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from annotated_types import Ge, Gt, Interval, Le
from pydantic import ConfigDict, TypeAdapter, ValidationError

from invsolve.errors import InvsolveError

if TYPE_CHECKING:  # torch loads only where an image is checked: the command line's help needs none
    import torch

STRICT = ConfigDict(strict=True, allow_inf_nan=False, arbitrary_types_allowed=True)

#: How a message names what an annotation admits.
_WORDS = {int: "an integer", float: "a finite number", str: "text", bool: "true or false"}


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter:
    return TypeAdapter(annotation, config=STRICT)


def describe(annotation: Any) -> str:
    """What an annotation admits, in words: ``int | None`` as "an integer or None",
    ``Annotated[int, Ge(1)]`` as "an integer of at least 1", ``Literal["a", "b"]`` as "a or b"."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return describe(arguments[0]) + "".join(_bound(rule) for rule in annotation.__metadata__)
    if origin is typing.Literal:
        return " or ".join(map(str, arguments))
    union = origin in (typing.Union, types.UnionType)
    words = [
        "None" if option is type(None) else _WORDS.get(option, getattr(option, "__name__", str(option)))
        for option in (arguments if union else (annotation,))
    ]
    return " or ".join(dict.fromkeys(words))


def _bound(rule: Any) -> str:
    """A bound from ``annotated_types`` in words."""
    if isinstance(rule, Interval) and rule.ge is not None and rule.le is not None:
        return f" in {rule.ge}..{rule.le}"
    if isinstance(rule, Ge):
        return ", 0 or more" if rule.ge == 0 else f" of at least {rule.ge}"
    if isinstance(rule, Gt):
        return f" above {rule.gt}"
    if isinstance(rule, Le):
        return f" of at most {rule.le}"
    return ""


def one_line(error: ValidationError, field: str | None = None) -> str:
    """A pydantic error as ``field network.size is 'huge'; expected 'tiny', 'small' or 'paper'``: the
    first problem, its field (``field`` names it where pydantic's location would not), the value
    given and what it must be."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) if field is None else field
    if first["type"] == "missing":
        return f"field {field} is missing"
    message = first["msg"]
    if not message.startswith(("Input should be", "Value error, ")) and field:  # a length, a pattern
        return f"field {field} is {shown(first['input'])}: {message[0].lower()}{message[1:]}"
    expected = _EXPECTED.get(first["type"], message.removeprefix("Input should be ").removeprefix("Value error, "))
    expected = expected.format(**first.get("ctx", {})) if first["type"] in _EXPECTED else expected
    if not field:  # a rule across fields
        return expected
    return f"field {field} is {shown(first['input'])}; expected {expected}"


def shown(value: Any) -> str:
    """``repr(value)``, cut to 40 characters for a one-line message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: pydantic's words for a few types, in the words the rest of invsolve's messages use.
_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "string_type": "text",
    "model_type": "a table",
    "dict_type": "a table",
    "list_type": "a list",
    "greater_than_equal": "at least {ge}",
    "greater_than": "above {gt}",
    "less_than_equal": "at most {le}",
    "less_than": "below {lt}",
}


def check_value(name: str, value: Any, annotation: Any, where: str) -> None:
    """``value`` of argument ``name`` against ``annotation`` (strict), or one line saying what it must be."""
    try:
        _adapter(annotation).validate_python(value)
    except ValidationError:
        raise InvsolveError(f"{where}: {name} must be {describe(annotation)}, got {shown(value)}") from None


def check_arguments(function: Callable, arguments: dict[str, Any], where: str) -> None:
    """Each of ``arguments`` against ``function``'s annotation for that parameter (unannotated ones,
    and ones the function does not name, are left to the caller)."""
    hints = _hints(function)
    for name, value in arguments.items():
        if name in hints:
            check_value(name, value, hints[name], where)


@functools.cache
def _hints(function: Callable) -> dict[str, Any]:
    target = function.__init__ if inspect.isclass(function) else function
    hints = typing.get_type_hints(target)
    hints.pop("return", None)
    return hints


def check_image(name: str, image: "torch.Tensor", where: str) -> None:
    """An image as invsolve takes it: a floating-point tensor, finite, with values in [0, 1]. Integer
    images (0..255) are refused rather than scored as if they were in [0, 1]."""
    import torch

    if not isinstance(image, torch.Tensor):
        raise InvsolveError(f"{where}: {name} must be a torch.Tensor, got {type(image).__name__}")
    if not image.is_floating_point():
        raise InvsolveError(
            f"{where}: {name} is {str(image.dtype).removeprefix('torch.')}; give floating-point values in [0, 1] "
            "(an 8-bit image: image.float() / 255)"
        )
    if not torch.isfinite(image).all():
        raise InvsolveError(f"{where}: {name} holds NaN or Inf values")
    low, high = image.min().item(), image.max().item()
    if low < 0 or high > 1:
        raise InvsolveError(
            f"{where}: {name} has values in {low:.4g}..{high:.4g}; images are scored in [0, 1]: rescale it "
            "(or read a file with read_image, which maps it there)"
        )
