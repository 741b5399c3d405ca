"""Time the style-transfer hot path against the machine and PyTorch.

    python -m benchmarks.bench --sizes 256 512 --repeats 8     (from the repository's root)


The work timed is one VGG19 forward pass to ``relu5_1`` plus the backward pass to the
pixels (a gradient of ones injected at ``relu5_1``), float32, random He-initialised weights
of the real shapes (the time does not depend on the values), max pooling. Each
implementation runs in its own worker process; the parent asks them in turn for one
iteration at a time (round-robin, the starting worker rotating each round), so a change in
the machine's load hits all of them alike. Ratios are medians of the per-round ratios.
On request (``--impls ... im2col-gemms``), a reference that computes nothing useful: the
matrix products of the im2col pass alone, the least time that pass can take here.

Memory: each worker reports its resident-set high-water mark (``ru_maxrss``) at the end
of its iterations minus its resident set at the end of its setup (libraries, weights, a
32 px warm-up, the input), i.e. the peak extra memory of one iteration. RSS rather than
``tracemalloc`` because it counts PyTorch's allocator and NumPy's alike.

Before any worker starts, each size's memory is estimated (:func:`memory_estimate`): the
resident set of one worker, fitted as setup + per-pixel cost to this bench's own runs
(``WORKER_MEMORY``), summed over the workers, which all live at once, times a safety factor
of 1.25. A size whose estimate exceeds the memory available is refused in one line, unless
``--memory-limit`` raises the limit (``off``: no check). A worker that dies anyway (killed
by the operating system) or raises (a MemoryError) ends the run with a one-line error: the
parent waits on a worker only while it is alive, however long a healthy one takes.
"""

import importlib.metadata
import importlib.util
import multiprocessing
import os
import resource
import signal
import statistics
import sys
import time

import numpy as np

if __package__ in (None, ""):   # run as a script, python benchmarks/bench.py: find benchmarks/
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nst_numpy import memory
from nst_numpy.fast import FastVGG
from nst_numpy.vgg import VGG, conv_shapes, random_weights

LAST_LAYER = "relu5_1"
NUMPY_IMPLS = ("im2col", "winograd")
# Not a way to compute the gradient: only the matrix products of the im2col pass (see
# _im2col_gemms_step), the least time that pass can take on this machine.
GEMMS_ONLY = "im2col-gemms"
SETTLE_SECONDS = 0.5   # pause before each timed iteration (see measure)
POLL_SECONDS = 0.2     # how often a wait on a worker checks that it is still alive
# Resident bytes of one worker at size x size px ~ a + b * size**2: (a, b) fitted to this
# bench's runs (setup RSS + its peak MB column), see docs/benchmarks.md, Memory.
WORKER_MEMORY = {"im2col": (224 * 2**20, 2736),
                 "winograd": (512 * 2**20, 1435),
                 GEMMS_ONLY: (268 * 2**20, 251)}
WORKER_MEMORY["torch"] = WORKER_MEMORY["winograd"]   # PyTorch CPU: about the same (docs/benchmarks.md)
MEMORY_SAFETY = 1.25   # the estimate's margin over the fitted figures


def _convs_up_to(last_conv, size):
    """(kernel shape, side) of each VGG19 conv up to ``last_conv`` on a size x size image."""
    convs = []
    for name, shape in conv_shapes("vgg19").items():
        convs.append((shape, size >> (int(name[4]) - 1)))   # block b runs at size / 2^(b-1)
        if name == last_conv:
            return convs
    raise ValueError(f"no layer {last_conv}")


def conv_flops(size, last_conv="conv5_1"):
    """Direct-convolution FLOPs of forward + input gradient up to ``last_conv``.

    Each 3x3 conv costs 2*K*C*9*H*W flops one way (a multiply and an add per tap);
    the input gradient costs the same again.
    """
    return sum(2 * (2 * K * C * kh * kw * side * side)
               for (K, C, kh, kw), side in _convs_up_to(last_conv, size))


def matmul_gflops(n, repeats=3):
    """Best float32 ``a @ b`` speed at n x n, in GFLOP/s (2 n^3 flops)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def _peak_rss_mb():
    """This process's resident-set high-water mark, MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10   # bytes vs KiB


def _rss_mb():
    """Resident set now, MB (Linux /proc); elsewhere the high-water mark, an upper bound."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return _peak_rss_mb()


def _numpy_step(impl, weights, threads):
    """The plain network (im2col) or the fast one (winograd, ``threads`` band threads)."""
    model = (VGG.vgg19(weights) if impl == "im2col" else FastVGG.vgg19(weights, threads=threads))

    def step(x):
        out, tape = model.forward(x, [LAST_LAYER])
        return model.backward({LAST_LAYER: np.ones_like(out[LAST_LAYER])}, tape)
    return step, lambda size: np.random.default_rng(1).standard_normal((3, size, size), dtype=np.float32)


def im2col_products(size):
    """Shapes (K, 9C, n) of the matrix products of one im2col pass up to ``LAST_LAYER``:
    one per conv, as conv2d_forward computes ``W @ cols`` ((K, 9C) @ (9C, n), n = H W);
    conv2d_backward_input multiplies ``W^T @ dF``, with the same FLOPs."""
    return [(K, C * kh * kw, side * side)
            for (K, C, kh, kw), side in _convs_up_to(LAST_LAYER.replace("relu", "conv"), size)]


def im2col_operands(size):
    """(W, cols, F, dF, dcols) for each of :func:`im2col_products`, float32: W (K, 9C) and
    the inputs cols (9C, n), dF (K, n) random; F and dcols receive the products.

    The band matrices are views of scratch arrays shared by every band: no more memory than
    the largest band's, and no product's result is fed to another (it would grow to inf).
    """
    products = im2col_products(size)
    rng = np.random.default_rng(0)
    kernels = {(K, rows): rng.standard_normal((K, rows), dtype=np.float32) for K, rows, _ in products}
    most_cols = max(rows * n for _, rows, n in products)
    most_out = max(K * n for K, _, n in products)
    cols, d_cols = rng.standard_normal(most_cols, dtype=np.float32), np.empty(most_cols, np.float32)
    d_out, out = rng.standard_normal(most_out, dtype=np.float32), np.empty(most_out, np.float32)

    def view(flat, rows, n):
        return flat[:rows * n].reshape(rows, n)
    return [(kernels[K, rows], view(cols, rows, n), view(out, K, n), view(d_out, K, n),
             view(d_cols, rows, n)) for K, rows, n in products]


def _im2col_gemms_step():
    """The matrix products of the im2col pass and nothing else (:func:`im2col_operands`),
    with BLAS as configured: no column matrix built, no ReLU or pool. Its time is the least
    an im2col pass with these products can take on this machine, however cheap the rest.
    """
    operands = {}

    def step(x):
        size = x.shape[-1]
        if size not in operands:
            operands.clear()          # one size at a time (memory)
            operands[size] = im2col_operands(size)
        for kernel, cols, out, d_out, d_cols in operands[size]:
            np.matmul(kernel, cols, out=out)          # F = W cols
            np.matmul(kernel.T, d_out, out=d_cols)    # dL/dcols = W^T dL/dF
    return step, lambda size: np.zeros((3, size, size), dtype=np.float32)


def _torch_step(weights):
    import torch
    import torch.nn.functional as F

    kernels = [(torch.from_numpy(k), torch.from_numpy(b)) for k, b in weights.values()]
    blocks = (2, 2, 4, 4, 1)   # convs per block up to conv5_1

    def step(x):
        x = x.detach().requires_grad_()
        h, i = x, 0
        for block, n_convs in enumerate(blocks):
            if block:
                h = F.max_pool2d(h, 2)
            for _ in range(n_convs):
                h = F.relu(F.conv2d(h, *kernels[i], padding=1))
                i += 1
        h.backward(torch.ones_like(h))
        return x.grad
    return step, lambda size: torch.from_numpy(
        np.random.default_rng(1).standard_normal((1, 3, size, size), dtype=np.float32))


def _worker(conn, impl, size, threads):
    """Set up one implementation, then run one iteration per "run" message.

    An exception (a MemoryError at a size too large) is sent to the parent as
    ``("error", "<type>: <message>")`` instead of a result.
    """
    try:
        _serve(conn, impl, size, threads)
    except Exception as error:   # noqa: BLE001 -- reported to the parent, which raises it
        text = " ".join(f"{type(error).__name__}: {error}".split())
        try:
            conn.send(("error", text[:500]))
        except OSError:
            pass                 # the parent is gone
    finally:
        conn.close()


def _serve(conn, impl, size, threads):
    if impl == "torch" and threads:
        import torch
        torch.set_num_threads(threads)
    weights = random_weights("vgg19", dtype=np.float32)
    if impl == "torch":
        step, make_input = _torch_step(weights)
    elif impl == GEMMS_ONLY:
        step, make_input = _im2col_gemms_step()
    else:
        step, make_input = _numpy_step(impl, weights, threads)
    step(make_input(32))                    # warm-up: libraries, kernel transforms
    x = make_input(size)
    baseline = _rss_mb()
    conn.send("ready")
    while conn.recv() == "run":
        start = time.perf_counter()
        step(x)
        conn.send(time.perf_counter() - start)
    conn.send(_peak_rss_mb() - baseline)


def _exit_reason(exitcode):
    """'exit code -9: killed, probably out of memory' and the like."""
    if exitcode is None:
        return "closed its pipe while running"
    if exitcode == -signal.SIGKILL:
        return f"exit code {exitcode}: killed, probably out of memory"
    if exitcode < 0:
        try:
            return f"exit code {exitcode}: {signal.Signals(-exitcode).name}"
        except ValueError:
            pass
    return f"exit code {exitcode}"


class _Worker:
    """One worker process and the parent's end of its pipe. Every wait on it lasts only
    as long as the process: a dead worker raises ChildProcessError (an OSError, so the CLI
    prints it in one line), as does an exception the worker sent."""

    def __init__(self, ctx, impl, size, threads):
        self.impl, self.size = impl, size
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, impl, size, threads), daemon=True)
        self.process.start()
        child.close()   # the worker's copy is its own: its death now ends the pipe here

    def _died(self):
        self.process.join(timeout=5)   # reap it, for its exit code
        return ChildProcessError(
            f"bench worker {self.impl!r} died at {self.size} px "
            f"({_exit_reason(self.process.exitcode)}); try a smaller --sizes")

    def send(self, message):
        try:
            self.conn.send(message)
        except OSError:     # BrokenPipeError: the worker is gone
            raise self._died() from None

    def recv(self):
        """The worker's next message; no time limit while it is alive."""
        while not self.conn.poll(POLL_SECONDS):
            if not self.process.is_alive() and not self.conn.poll():
                raise self._died()
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        if isinstance(message, tuple) and message[:1] == ("error",):
            hint = "; try a smaller --sizes" if message[1].startswith("MemoryError") else ""
            raise ChildProcessError(
                f"bench worker {self.impl!r} failed at {self.size} px: {message[1]}{hint}")
        return message

    def stop(self):
        """End the process (if still running) and close the pipe."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


def measure(size, impls, repeats, threads=None):
    """{impl: (list of times in s, peak extra MB)} for one image size, interleaved.

    threads: BLAS / PyTorch threads of each worker (default: the libraries' own choice).
    A worker that dies or raises ends the measure with a one-line ChildProcessError, the
    other workers ended; a live worker is waited for however long it takes.
    """
    ctx = multiprocessing.get_context("spawn")
    workers = {}
    saved = dict(os.environ)
    try:
        if threads:   # read by OpenBLAS when a fresh worker imports NumPy
            os.environ.update({var: str(threads)
                               for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")})
        try:
            for impl in impls:
                workers[impl] = _Worker(ctx, impl, size, threads)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        for impl, worker in workers.items():
            if worker.recv() != "ready":
                raise ChildProcessError(f"bench worker {impl!r} failed to start")
        times = {impl: [] for impl in impls}
        for round_ in range(repeats + 1):           # round 0 warms up at full size, untimed
            order = impls[round_ % len(impls):] + impls[:round_ % len(impls)]
            for impl in order:
                # BLAS and OpenMP threads spin for a while after
                # a parallel call before they sleep: let the previous worker's go quiet,
                # or they take a core from this one.
                time.sleep(SETTLE_SECONDS)
                workers[impl].send("run")
                elapsed = workers[impl].recv()
                if round_:
                    times[impl].append(elapsed)
        results = {}
        for impl, worker in workers.items():
            worker.send("stop")
            results[impl] = (times[impl], worker.recv())
        return results
    finally:
        for worker in workers.values():
            worker.stop()


def memory_estimate(size, impls):
    """Bytes the workers of one size may take together, all alive at once: each one's
    fitted ``WORKER_MEMORY`` (setup + per pixel; PyTorch's taken as Winograd's) times the
    safety factor ``MEMORY_SAFETY`` (1.25)."""
    return MEMORY_SAFETY * sum(a + b * size * size
                               for a, b in (WORKER_MEMORY[impl] for impl in impls))


def _check_memory(sizes, impls, limit):
    """Refuse, in one line, the first size whose workers would not fit in ``limit`` bytes
    (None: the memory available now)."""
    for size in sorted(set(sizes)):
        memory.check_fits(
            memory_estimate(size, impls), limit,
            what=f"bench at {size} px ({', '.join(impls)}: {len(impls)} worker"
                 f"{'s' if len(impls) > 1 else ''} at once)",
            remedy="try smaller --sizes or fewer --impls")


# The longest the --matmul-sizes reference may take (a warm-up and 3 timed products each).
MATMUL_SECONDS = 600


def _check_matmul_sizes(sizes, limit):
    """Refuse, in one line, a --matmul-sizes n whose three n x n float32 matrices would not
    fit in ``limit`` bytes (None: the memory available), or whose four products would take
    longer than MATMUL_SECONDS at the speed measured here on a 512 x 512 product."""
    speed = None
    for n in sorted(set(sizes)):
        memory.check_fits(MEMORY_SAFETY * 3 * 4 * n * n, limit,
                          what=f"the {n}x{n} matmul reference (3 float32 matrices)",
                          remedy="try smaller --matmul-sizes")
        speed = speed or matmul_gflops(512) * 1e9
        seconds = 4 * 2 * n**3 / speed
        if seconds > MATMUL_SECONDS:
            raise ValueError(f"--matmul-sizes {n}: 4 products of {2 * n**3 / 1e12:.3g} TFLOP "
                             f"each would take about {seconds / 60:.0f} minutes at the "
                             f"{speed / 1e9:.0f} GFLOP/s measured here; try a size up to "
                             f"{int((MATMUL_SECONDS * speed / 8) ** (1 / 3))}")


def run(args):
    """Print the machine's matmul speed and the timing table (or, with --whole-run, the
    whole-run comparison of :mod:`benchmarks.bench_run`)."""
    _check_options(args)
    if args.whole_run:
        from benchmarks import bench_run
        return bench_run.run(args)
    limit = None
    if args.memory_limit is not None:
        try:
            limit = memory.parse_size(args.memory_limit)
        except ValueError as error:
            raise ValueError(f"--memory-limit: {error}") from None
    impls = list(dict.fromkeys(args.impls))   # each implementation once
    has_torch = importlib.util.find_spec("torch") is not None
    if "torch" in impls and args.no_torch:
        raise ValueError("--impls torch and --no-torch contradict each other; give one")
    if "torch" in impls and not has_torch:
        if impls == ["torch"]:
            raise ValueError("--impls torch: PyTorch is not installed, so there is nothing to "
                             "time; pip install torch, or name another implementation")
        print("PyTorch is not installed: no comparison (pip install torch for one)")
        impls.remove("torch")
    elif has_torch and not args.no_torch and "torch" not in impls:
        impls.append("torch")
    _check_memory(args.sizes, impls, limit)
    _check_matmul_sizes(args.matmul_sizes, limit)
    versions = f"numpy {np.__version__}"
    if "torch" in impls:
        versions += f", torch {importlib.metadata.version('torch')}"
    threads = f"{args.threads} threads per worker" if args.threads else "default threads"
    print(f"{versions}, {multiprocessing.cpu_count()} CPUs, {threads}")
    for n in args.matmul_sizes:
        print(f"numpy.matmul float32 {n}x{n}: {matmul_gflops(n):.0f} GFLOP/s (best of 3)")
    print(f"VGG19 forward + backward-to-input through {LAST_LAYER}, float32, "
          f"{args.repeats} interleaved rounds after a warm-up round")
    header = f"{'size':>5} {'impl':>12} {'median s':>9} {'min s':>7} {'GFLOP/s':>8} {'vs torch':>9} {'peak MB':>8}"
    print(header)
    for size in args.sizes:
        results = measure(size, impls, args.repeats, args.threads)
        flops = conv_flops(size)
        for impl, (times, peak) in results.items():
            median = statistics.median(times)
            ratio = ""
            if "torch" in results and impl != "torch":
                # paired: each round's time over torch's time in the same round
                ratio = f"{statistics.median(t / r for t, r in zip(times, results['torch'][0])):.2f}x"
            print(f"{size:5d} {impl:>12} {median:9.3f} {min(times):7.3f} "
                  f"{flops / median / 1e9:8.1f} {ratio:>9} {peak:8.0f}")
    return 0


def _check_options(args):
    """One-line ValueErrors for option values out of range, each naming its option."""
    if args.repeats < 1:
        raise ValueError(f"--repeats {args.repeats}: time at least one round")
    for size in args.sizes:
        if size < 16:
            raise ValueError(f"--sizes {size}: VGG19 needs at least 16 px to reach {LAST_LAYER}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads {args.threads}: use at least one thread "
                         "(or leave the option out for the libraries' choice)")
    for n in args.matmul_sizes:
        if n < 1:
            raise ValueError(f"--matmul-sizes {n}: a matrix needs at least 1 x 1")
    if args.iterations < 1:
        raise ValueError(f"--iterations {args.iterations}: run at least one iteration")
    for scales in args.scales:
        if scales < 2:
            raise ValueError(f"--scales {scales}: coarse-to-fine needs at least 2 levels "
                             "(single-scale is always run)")
    for n in args.coarse_iterations or []:
        if n < 1:
            raise ValueError(f"--coarse-iterations {n}: run at least one iteration per level")
    for tol in args.tols or []:
        if not tol > 0:
            raise ValueError(f"--tols {tol}: give tolerances > 0 (0 is the whole run)")
    if not args.whole_run:
        for option, value in (("--curves", args.curves), ("--out", args.out),
                              ("--tols", args.tols)):
            if value:
                raise ValueError(f"{option} applies with --whole-run only; add it or drop {option}")
        return
    from benchmarks.bench_run import check_outputs, coarsest_side
    for size in args.sizes:   # the quiz's pictures are 3:2: the shorter side is 2/3 of --sizes
        for scales in args.scales:
            shortest = coarsest_side(size, scales)
            if shortest < 16:
                raise ValueError(f"--sizes {size} with --scales {scales}: the coarsest level is "
                                 f"{shortest} px on its shorter side, too small to reach "
                                 f"{LAST_LAYER} (16 px); use larger --sizes or fewer --scales")
    check_outputs(args)


def add_arguments(parser):
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512],
                        help="square image sides in pixels (default: 256 512)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed rounds per size, each running every implementation once (default 5)")
    parser.add_argument("--impls", nargs="+", default=list(NUMPY_IMPLS),
                        choices=list(NUMPY_IMPLS) + [GEMMS_ONLY, "torch"],
                        help="implementations to time (default: im2col winograd, plus torch if "
                             f"installed); {GEMMS_ONLY}: only the matrix products of im2col, "
                             "a floor for its time")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS, PyTorch and Winograd-band threads in each worker "
                             "(default: the libraries' choice)")
    parser.add_argument("--matmul-sizes", type=int, nargs="*", default=[2048, 4096],
                        help="n of the n x n matmul reference (default: 2048 4096)")
    parser.add_argument("--memory-limit", metavar="SIZE", default=None,
                        help="refuse sizes estimated to need more memory than this, e.g. 8G; "
                             "off: no check (default: the memory available now)")
    whole = parser.add_argument_group(
        "whole run", "with --whole-run: seconds to a given loss for whole stylizations "
        "(single-scale, coarse-to-fine, PyTorch's L-BFGS if installed), at each --sizes")
    whole.add_argument("--whole-run", action="store_true",
                       help="time whole stylizations instead of one forward + backward")
    whole.add_argument("--iterations", type=int, default=300,
                       help="single-scale L-BFGS iterations; their final loss is the target "
                            "(default 300)")
    whole.add_argument("--scales", type=int, nargs="*", default=[2, 3],
                       help="coarse-to-fine levels to compare (default: 2 3; none: "
                            "single-scale only)")
    whole.add_argument("--pairs", nargs="+", default=["quiz"], choices=["quiz", "demo"],
                       help="content and style pictures: the quiz's (turtle, Great Wave), the "
                            "demo's, or both in turn (default: quiz)")
    whole.add_argument("--tols", type=float, nargs="+", default=None,
                       help="also say where the stopping rule with each tol would end "
                            "single-scale's run, and at what loss")
    whole.add_argument("--coarse-iterations", type=int, nargs="+", default=None,
                       help="iterations at each coarser level; several values are compared "
                            "(default: stylize's)")
    whole.add_argument("--curves", metavar="FILE",
                       help="write (seconds, loss) of every run as JSON, one file per size: "
                            "FILE_SIZE.json (never over an existing file)")
    whole.add_argument("--out", metavar="DIR",
                       help="write every run's picture into DIR, a new or empty folder")


def main(argv=None):
    """``python -m benchmarks.bench``: every fault a one-line error, as the nst-numpy
    command's (:func:`nst_numpy.cli.run_handler`)."""
    from nst_numpy.cli import Parser, run_handler

    parser = Parser(prog="python -m benchmarks.bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:   # --help, or a bad option (already said in one line)
        return stop.code
    return run_handler(parser.prog, run, args)


if __name__ == "__main__":
    sys.exit(main())
