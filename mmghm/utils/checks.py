"""Argument checks shared by losses, heads, hooks, metrics and samplers.

Each returns the value (converted to the plain Python type) or raises a
``ValueError`` that names the argument, what was given and what is
allowed. Bools are never taken for numbers.
"""
import math
import numbers
from typing import Optional

__all__ = ['check_number', 'check_int', 'check_bool']


def _interval(low, high, low_open, high_open) -> str:
    if low is None and high is None:
        return ''
    if high is None:
        return f' {">" if low_open else ">="} {low:g}'
    if low is None:
        return f' {"<" if high_open else "<="} {high:g}'
    return (f' in {"(" if low_open else "["}{low:g}, '
            f'{high:g}{")" if high_open else "]"}')


def check_number(name: str,
                 value,
                 low: Optional[float] = None,
                 high: Optional[float] = None,
                 low_open: bool = False,
                 high_open: bool = False) -> float:
    """Return ``float(value)`` if it is a finite real number in range.

    Accepts Python and NumPy ints and floats, not bools, strings, tensors,
    NaN or infinities.

    Args:
        name: The argument's name, for the error message.
        value: The value given.
        low, high: Bounds (None: unbounded).
        low_open, high_open: Exclude the bound itself.

    Raises:
        ValueError: Naming the argument, what was given and what is allowed.
    """
    allowed = 'a finite number' + _interval(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f'{name} must be {allowed}, but got {value!r} '
                         f'({type(value).__name__}).')
    fval = float(value)
    if (not math.isfinite(fval)
            or (low is not None and (fval <= low if low_open else fval < low))
            or (high is not None
                and (fval >= high if high_open else fval > high))):
        raise ValueError(f'{name} must be {allowed}, but got {value!r}.')
    return fval


def check_int(name: str, value, minimum: Optional[int] = None) -> int:
    """Return ``int(value)`` if it is an integer (not a bool) >= minimum.

    Accepts Python and NumPy integers.
    """
    allowed = 'an int' + ('' if minimum is None else f' >= {minimum}')
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or (minimum is not None and value < minimum):
        raise ValueError(f'{name} must be {allowed}, but got {value!r} '
                         f'({type(value).__name__}).')
    return int(value)


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is a bool (True or False), else raise."""
    if not isinstance(value, bool):
        raise ValueError(f'{name} must be a bool (True or False), but got '
                         f'{value!r}.')
    return value
