"""Range checks for the numeric settings of the registered architectures.

Each check raises a :class:`ConfigValueError` (E002) that names the setting,
its value, the architecture and the allowed range, when the model is built: a
bad value never reaches training, where it would fail far from its cause or
silently (a dropout of 1.5 zeroes every value it touches).

    check_settings(
        "spacy_rnn.SumHashEmbed.v1",
        ints={"width": width}, int_lists={"rows": rows}, rates={"dropout": dropout},
    )
"""
import math
from numbers import Integral, Real
from typing import Any, Mapping, Optional, Sequence

from ..errors import ConfigValueError, Errors


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _error(where: str, name: str, value: Any, reason: str) -> ConfigValueError:
    return ConfigValueError(Errors.E002.format(name=name, value=value, where=where, reason=reason))


def check_int(where: str, name: str, value: Any, minimum: int = 1) -> None:
    """An int of ``minimum`` or more."""
    if not _is_int(value) or value < minimum:
        raise _error(where, name, value, f"use an int of {minimum} or more.")


def check_int_list(where: str, name: str, values: Any, minimum: int = 1) -> None:
    """A list of ints of ``minimum`` or more (whether it may be empty is the caller's check)."""
    if not isinstance(values, (list, tuple)) or not all(_is_int(value) and value >= minimum for value in values):
        raise _error(where, name, values, f"use a list of ints of {minimum} or more.")


def check_rate(where: str, name: str, value: Any) -> None:
    """A dropout rate: a number in [0, 1)."""
    if not _is_number(value) or not 0.0 <= value < 1.0:
        raise _error(
            where, name, value,
            "use a number in [0, 1): the fraction of values zeroed during training (0 for none).",
        )


def check_positive(where: str, name: str, value: Any) -> None:
    """A finite number above 0."""
    if not _is_number(value) or value <= 0:
        raise _error(where, name, value, "use a finite number above 0.")


def check_choice(where: str, name: str, value: Any, choices: Sequence[str]) -> None:
    """One of ``choices``."""
    if value not in choices:
        raise _error(where, name, value, f"use one of {', '.join(repr(choice) for choice in choices)}.")


def check_settings(
    where: str,
    *,
    ints: Optional[Mapping[str, Any]] = None,
    int_lists: Optional[Mapping[str, Any]] = None,
    rates: Optional[Mapping[str, Any]] = None,
    positive: Optional[Mapping[str, Any]] = None,
    minimum: int = 1,
) -> None:
    """Check several settings of the architecture ``where`` by name.

    ints: ints of ``minimum`` or more; int_lists: lists of such ints; rates:
    dropout rates in [0, 1); positive: finite numbers above 0.
    """
    for name, value in (ints or {}).items():
        check_int(where, name, value, minimum)
    for name, values in (int_lists or {}).items():
        check_int_list(where, name, values, minimum)
    for name, value in (rates or {}).items():
        check_rate(where, name, value)
    for name, value in (positive or {}).items():
        check_positive(where, name, value)
