"""How much memory a job may take: what the machine has free, and a one-line refusal.

A style transfer's memory grows with its pixel count (docs/benchmarks.md measures it per
pixel). A size that does not fit would be killed by the operating system or end in a
MemoryError deep inside NumPy; :func:`check_fits` refuses it before anything is allocated,
naming the estimate, the memory available, and how to override the limit.
"""

import math
import numbers
import os
import re

from ._checks import OptionError
from .optim import LBFGS_MEMORY

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
NO_LIMIT = ("off", "none", "inf")


def available_bytes():
    """Memory this process can still take, in bytes, or None where it cannot be read.

    Linux: ``MemAvailable`` of /proc/meminfo, capped by the cgroup's limit less its usage
    (containers); elsewhere the free physical pages, where ``os.sysconf`` knows them.
    """
    candidates = [_meminfo_available(), _cgroup_room()]
    candidates = [c for c in candidates if c is not None]
    if candidates:
        return min(candidates)
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _meminfo_available():
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room():
    """The cgroup's limit minus its usage (cgroup v2, then v1), or None without a limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                limit = f.read().strip()
            with open(usage_file) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= 2**60:   # no limit set
            return None
        return max(0, int(limit) - usage)
    return None


def format_bytes(n):
    """1234567890 -> '1.1 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def parse_size(text):
    """'12G', '500M', '2.5GiB', '1e9' -> bytes (float); 'off', 'none' or 'inf' -> math.inf.

    A bare number is bytes. Raises ValueError with the accepted forms.
    """
    value = str(text).strip()
    if value.lower() in NO_LIMIT:
        return math.inf
    match = re.fullmatch(r"([0-9.eE+]+)\s*([kKmMgGtT]?)(i?[bB])?", value)
    try:
        number = float(match.group(1)) if match else math.nan
    except ValueError:
        number = math.nan
    if not match or not math.isfinite(number) or number <= 0:
        raise ValueError(f"memory size {text!r} is not a positive size such as 8G, 500M or off")
    return number * _UNITS[match.group(2).upper()]


# The margin of an estimate over the measured figures it is built from (docs/benchmarks.md,
# "Memory of a whole run": it covers other shapes, another BLAS and the fits' scatter).
MARGIN = 1.25
# Decoding an input image of P pixels holds Pillow's RGB image (4 bytes a pixel) and NumPy's
# copy (3) at once, and then the resized picture (benchmarks/bench_memory.py, large-input).
DECODE_BYTES_PER_PIXEL = 8
# L-BFGS's history beyond the 10 steps that the networks' figures were measured with: two
# float64 vectors of 3 H W numbers per step, 48 bytes per output pixel.
LBFGS_BYTES_PER_STEP_AND_PIXEL = 48
FITTED_LBFGS_MEMORY = 10   # the L-BFGS history of the whole runs the networks' MEMORY fits


def estimate_run(network, pixels, itemsize=4, held=0, decoded=0, lbfgs_memory=None,
                 output_pixels=0):
    """Peak bytes of a run, :data:`MARGIN` times the sum of what grows with its options.

    network: (a, b), the network's peak ``a + b * pixels`` over whole float32 L-BFGS runs
    (a model's ``MEMORY``), at ``pixels``, the largest image it runs on; twice that in
    float64 (``itemsize`` 8). decoded: the pixels of the largest input file, decoded at its
    own size before the run, if that takes more. held: bytes the loss terms hold through the
    run (their targets). lbfgs_memory: L-BFGS's steps of history (default
    :data:`nst_numpy.optim.LBFGS_MEMORY`), counted beyond the 10 of the runs ``network``
    was fitted on, for an output of ``output_pixels``.
    """
    a, b = network
    steps = max(0, (lbfgs_memory or LBFGS_MEMORY) - FITTED_LBFGS_MEMORY)
    history = LBFGS_BYTES_PER_STEP_AND_PIXEL * steps * output_pixels
    return MARGIN * (a * itemsize / 4 + max(b * pixels * itemsize / 4,
                                            DECODE_BYTES_PER_PIXEL * decoded) + held + history)


def check_limit(limit):
    """``limit`` as bytes (a float): a positive number, or ``math.inf`` for no check.

    NaN, zero, negative numbers and non-numbers are refused in one line naming the option.
    """
    ok = isinstance(limit, numbers.Real) and not isinstance(limit, bool) and limit > 0
    if not ok:   # (NaN > 0 is False: refused here)
        raise OptionError(f"{{memory_limit}} must be a positive number of bytes or math.inf "
                          f"(no check), got {OptionError.literal(repr(limit))}",
                          memory_limit="memory_limit")
    return float(limit)


def check_fits(estimate, limit=None, what="this job", remedy="use a smaller size", **options):
    """Raise a one-line :class:`~nst_numpy._checks.OptionError` when ``estimate`` bytes
    exceed the limit.

    limit: bytes; None for :func:`available_bytes` (no check where that is unknown);
    math.inf for no check. what: the job, for the message ("a 4096x4096 stylization");
    remedy: what makes it smaller, a template that may name options as ``{placeholder}``s
    ("lower {size}"), each given in ``options`` as placeholder=keyword. The message ends by
    naming ``memory_limit``, the option that raises the limit, however the caller spells it.
    """
    if limit is None:
        limit, source = available_bytes(), "available"
    else:
        limit, source = check_limit(limit), "allowed"
    if limit is None or math.isinf(limit) or estimate <= limit:
        return
    raise OptionError(f"{OptionError.literal(what)} needs about {format_bytes(estimate)} of "
                      f"memory (estimated), more than the {format_bytes(limit)} {source}: "
                      f"{remedy}; to try anyway, raise the limit with {{memory_limit}}",
                      memory_limit="memory_limit", **options)
