"""Argument checks shared by the teaching modules: one clear line for an array they cannot use."""

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
    the option's keyword. ``str(error)`` spells them as keywords (``memory_limit``), the way a
    Python caller wrote them; the command line renders the same message with its flags
    (``--memory-limit``) through :meth:`render`. One rule, one message, two spellings.
    """

    def __init__(self, template, **options):
        self.template, self.options = template, options
        super().__init__(self.render(lambda keyword: keyword))

    @staticmethod
    def literal(text):
        """``text`` escaped for a template: braces in a file name stay braces."""
        return str(text).replace("{", "{{").replace("}", "}}")

    def render(self, spell):
        """The message with each option spelled by ``spell(keyword)``."""
        return self.template.format(**{k: spell(v) for k, v in self.options.items()})
