"""Argument checks shared by the modules: one clear line for an array or an option they cannot use."""

import math
import numbers
import reprlib

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_array(a, name, where):
    """``a`` as an array if its dtype is float32 or float64, else a one-line ValueError.

    Integers would overflow (an int8 square wraps around) and float16 loses the Gram
    matrix's symmetry to rounding: the project computes in float32 or float64 only.
    """
    a = np.asarray(a)
    if a.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{where}: {name} has dtype {a.dtype}; pass float32 or float64 "
                         f"(e.g. {name}.astype(np.float64))")
    return a


def same_dtype(a, b, names, where):
    """A one-line ValueError unless ``a`` and ``b`` share a dtype (nothing upcasts silently)."""
    if a.dtype != b.dtype:
        raise ValueError(f"{where}: {names[0]} is {a.dtype} but {names[1]} is {b.dtype}; "
                         "compute both in one dtype")


class OptionError(ValueError):
    """A one-line refusal that names options, spelled as the caller wrote them.

    ``template`` holds a ``{placeholder}`` per option and ``options`` maps each placeholder to
    the option's keyword, or to a (keyword, value) pair for an option with a value.
    ``str(error)`` spells them as a Python caller wrote them (``memory_limit``,
    ``optimizer='adam'``); the command line renders the same message with its flags
    (``--memory-limit``, ``--optimizer adam``) through :meth:`render`. One rule, one
    message, two spellings.
    """

    def __init__(self, template, **options):
        self.template, self.options = template, options
        super().__init__(self.render(lambda keyword: keyword))

    @staticmethod
    def literal(text):
        """``text`` escaped for a template: braces in a file name stay braces."""
        return str(text).replace("{", "{{").replace("}", "}}")

    def render(self, spell, separator=None):
        """The message with each option spelled by ``spell(keyword)``; an option with a
        value as ``spelling=value!r`` (Python), or ``spelling value`` when ``separator`` is
        " " (the command line)."""
        def spelled(option):
            if isinstance(option, str):
                return spell(option)
            keyword, value = option
            if separator is None:
                return f"{spell(keyword)}={value!r}"
            return f"{spell(keyword)}{separator}{value}"
        return self.template.format(**{k: spelled(v) for k, v in self.options.items()})

    def renamed(self, names):
        """The same refusal with its options renamed by ``names`` ({keyword: caller's
        keyword}): a term's ``layers`` is stylize's ``style_layers``."""
        def rename(option):
            if isinstance(option, str):
                return names.get(option, option)
            return names.get(option[0], option[0]), option[1]
        return OptionError(self.template, **{k: rename(v) for k, v in self.options.items()})


# --- numbers given as options: one line naming the option (an OptionError) --------------

def _number_error(name, value, requirement, where=""):
    return OptionError(f"{{{name}}}{OptionError.literal(where)} must be {requirement}, got "
                       f"{OptionError.literal(reprlib.repr(value))}", **{name: name})


def is_real(value):
    """A real number (a Python or NumPy int or float), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def non_negative_number(name, value, where=""):
    """``value`` as a float if it is a finite real number >= 0, else an OptionError."""
    if not (is_real(value) and math.isfinite(value) and value >= 0):
        raise _number_error(name, value, "a finite number >= 0", where)
    return float(value)


def positive_number(name, value, where=""):
    """``value`` as a float if it is a finite real number > 0, else an OptionError."""
    if not (is_real(value) and math.isfinite(value) and value > 0):
        raise _number_error(name, value, "a finite number > 0", where)
    return float(value)


def integer(name, value, minimum):
    """``value`` as an int if it is an integer >= minimum (not a bool), else an OptionError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < minimum:
        raise _number_error(name, value, f"an integer >= {minimum}")
    return int(value)


def choice(name, value, choices):
    """``value`` if it is one of ``choices``, else an OptionError listing them."""
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        raise OptionError(f"unknown {{{name}}} {OptionError.literal(reprlib.repr(value))}; choose one "
                          f"of {OptionError.literal(list(choices))}", **{name: name})
    return value
