"""The benchmark ``python -m benchmarks.bench`` (beside the package): its FLOP count, a tiny end-to-end run (32 px, no PyTorch), its
memory refusal and its workers' deaths reported instead of waited on."""

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from benchmarks import bench
from nst_numpy import loop, memory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_conv_flops_counts_forward_and_input_gradient_to_conv5_1():
    # blocks at 256, 128, 64, 32, 16 px; (K, C) of each conv up to conv5_1
    convs = [(256, [(64, 3), (64, 64)]), (128, [(128, 64), (128, 128)]),
             (64, [(256, 128)] + [(256, 256)] * 3), (32, [(512, 256)] + [(512, 512)] * 3),
             (16, [(512, 512)])]
    expected = sum(2 * 2 * K * C * 9 * side**2 for side, layers in convs for K, C in layers)
    assert bench.conv_flops(256) == expected
    assert bench.conv_flops(512) == 4 * expected


@pytest.mark.parametrize("size", [32, 256, 512])
def test_im2col_products_are_the_direct_convolution_flops(size):
    # forward W @ cols and backward W^T @ dF, each 2 K (9C) n flops per band
    products = bench.im2col_products(size)
    assert sum(2 * 2 * K * rows * n for K, rows, n in products) == bench.conv_flops(size)


def test_im2col_operands_fit_the_products_in_float32():
    # float32 throughout: one float64 operand would make NumPy cast and time the cast
    for (K, rows, n), operands in zip(bench.im2col_products(64), bench.im2col_operands(64)):
        kernel, cols, out, d_out, d_cols = operands
        assert [a.shape for a in operands] == [(K, rows), (rows, n), (K, n), (K, n), (rows, n)]
        assert all(a.dtype == np.float32 and a.flags.c_contiguous for a in operands)


def test_bench_runs_end_to_end_on_a_tiny_image(capsys):
    code = bench.main(["--sizes", "32", "--repeats", "1", "--no-torch",
                     "--matmul-sizes", "64"])
    out = capsys.readouterr().out
    assert code == 0
    assert "numpy.matmul float32 64x64" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("32 ")]
    assert [row[1] for row in rows] == ["im2col", "winograd"]
    assert all(float(row[2]) > 0 for row in rows)


def test_whole_run_compares_single_scale_and_coarse_to_fine_on_a_tiny_image(capsys, tmp_path):
    code = bench.main(["--whole-run", "--sizes", "48", "--iterations", "4", "--no-torch",
                     "--scales", "2", "--coarse-iterations", "2", "3",
                     "--curves", str(tmp_path / "curves.json"), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    table, looser = out.split("seconds to come within a margin of the target")
    rows = {line[:30].strip(): line[30:].split() for line in table.splitlines()
            if line[:30].strip() in ("single-scale", "coarse-to-fine x2 (2 coarse)",
                                     "coarse-to-fine x2 (3 coarse)")}
    assert len(rows) == 3, out
    assert rows["single-scale"][1] == "1.00x"        # the target is single-scale's own loss
    # every margin is reached, and single-scale is its own reference
    single = next(line for line in looser.splitlines() if line.strip().startswith("single-scale"))
    assert single.count("(1.00x)") == 5, looser
    with open(tmp_path / "curves_48.json") as f:
        data = json.load(f)
    assert data["target"] == pytest.approx(float(rows["single-scale"][3]), rel=1e-3)
    assert set(data["curves"]) == set(rows)
    for curve in data["curves"].values():
        seconds = [t for t, _ in curve]
        assert seconds == sorted(seconds) and seconds[0] > 0
    assert sorted(p.name for p in tmp_path.glob("*.jpg")) == [
        "48_coarse-to-fine_x2_2_coarse.jpg", "48_coarse-to-fine_x2_3_coarse.jpg",
        "48_single-scale.jpg"]


def test_whole_run_says_where_each_tol_would_stop_on_the_demo_pair(capsys, tmp_path):
    n = loop.STOP_WINDOW + 2
    code = bench.main(["--whole-run", "--sizes", "48", "--iterations", str(n), "--no-torch",
                     "--scales", "--pairs", "demo", "--tols", "1", "1e-30",
                     "--curves", str(tmp_path / "c.json")])
    out = capsys.readouterr().out
    assert code == 0 and "the demo's pictures" in out
    rows = {line.split()[0]: line.split() for line in out.split("stopping rule")[1].splitlines()
            if line.strip()[:1].isdigit()}
    # tol 1: stalled as soon as there is a whole window; 1e-30: never, the whole run
    assert int(rows["1e+00"][1]) == loop.STOP_WINDOW + 1
    assert rows["1e-30"][1:] == [str(n), rows["1e-30"][2], "1.00x", rows["1e-30"][4], "+0.0%"]
    with open(tmp_path / "c_48_demo.json") as f:
        losses = [loss for _, loss in json.load(f)["curves"]["single-scale"]]
    assert float(rows["1e+00"][4]) == pytest.approx(losses[loop.STOP_WINDOW], rel=1e-3)
    assert bench.main(["--whole-run", "--tols", "0"]) == 2
    assert "--tols 0.0: give tolerances > 0" in capsys.readouterr().err


def test_bench_times_the_im2col_products_alone_on_request(capsys):
    code = bench.main(["--sizes", "32", "--repeats", "1", "--no-torch",
                     "--matmul-sizes", "64", "--impls", "im2col", bench.GEMMS_ONLY])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.strip().startswith("32 ")]
    assert code == 0
    assert [row[1] for row in rows] == ["im2col", bench.GEMMS_ONLY]
    assert all(float(row[2]) > 0 for row in rows)


@pytest.mark.parametrize("argv,message", [
    (["--sizes", "15"], "--sizes 15: VGG19 needs at least 16 px"),
    (["--sizes", "0"], "--sizes 0: VGG19 needs at least 16 px"),
    (["--sizes", "256", "-64"], "--sizes -64: VGG19 needs at least 16 px"),
    (["--repeats", "0"], "--repeats 0: time at least one round"),
    (["--repeats", "-2"], "--repeats -2: time at least one round"),
    (["--threads", "0"], "--threads 0: use at least one thread"),
    (["--threads", "-1"], "--threads -1: use at least one thread"),
    (["--matmul-sizes", "0"], "--matmul-sizes 0: a matrix needs at least 1 x 1"),
    (["--matmul-sizes", "64", "-8"], "--matmul-sizes -8: a matrix needs at least 1 x 1"),
    (["--iterations", "0"], "--iterations 0: run at least one iteration"),
    (["--scales", "1"], "--scales 1: coarse-to-fine needs at least 2 levels"),
    (["--coarse-iterations", "5", "0"], "--coarse-iterations 0: run at least one iteration"),
    (["--memory-limit", "lots"], "--memory-limit: memory size 'lots' is not a positive size"),
    (["--memory-limit", "0"], "--memory-limit: memory size '0' is not a positive size"),
])
def test_bench_rejects_bad_options(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(bench, "matmul_gflops", _must_not_run)
    monkeypatch.setattr(bench, "measure", _must_not_run)
    assert bench.main([*argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def _must_not_run(*args, **kwargs):
    raise AssertionError("bench started work it should have refused")


def test_memory_estimate_sums_the_workers_alive_at_once():
    one = bench.memory_estimate(1024, ["im2col"])
    both = bench.memory_estimate(1024, ["im2col", "winograd"])
    assert both == pytest.approx(one + bench.memory_estimate(1024, ["winograd"]))
    a, b = bench.WORKER_MEMORY["im2col"]
    assert one == pytest.approx(bench.MEMORY_SAFETY * (a + b * 1024**2))
    # grows with the pixels: four times the pixels, nearly four times the per-pixel part
    assert 3 * one < bench.memory_estimate(2048, ["im2col"]) < 4 * one
    assert bench.memory_estimate(512, ["torch"]) == bench.memory_estimate(512, ["winograd"])
    assert set(bench.WORKER_MEMORY) == {*bench.NUMPY_IMPLS, bench.GEMMS_ONLY, "torch"}


def test_bench_refuses_a_size_that_cannot_fit_before_starting_a_worker(capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 16 * 2**30)
    monkeypatch.setattr(bench, "matmul_gflops", _must_not_run)
    monkeypatch.setattr(bench, "measure", _must_not_run)
    start = time.perf_counter()
    code = bench.main(["--sizes", "256", "100000", "--repeats", "1", "--no-torch",
                     "--impls", "im2col", "--matmul-sizes"])
    err = capsys.readouterr().err
    assert code == 2 and time.perf_counter() - start < 5
    assert err.count("\n") == 1
    assert "bench at 100000 px" in err and "needs about" in err
    assert "16.0 GiB available" in err and "--memory-limit" in err


def test_bench_memory_limit_sets_or_lifts_the_limit(capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 1)   # as if nothing were free
    monkeypatch.setattr(bench, "measure", _must_not_run)
    argv = ["--sizes", "1024", "--no-torch", "--matmul-sizes"]
    assert bench.main([*argv, "--memory-limit", "1G"]) == 2
    assert "more than the 1.0 GiB allowed" in capsys.readouterr().err

    measured = []
    monkeypatch.setattr(bench, "measure", lambda size, impls, repeats, threads=None:
                        measured.append(size) or {impl: ([1.0], 10.0) for impl in impls})
    assert bench.main([*argv, "--memory-limit", "off"]) == 0
    assert measured == [1024]


def _no_address_space_beyond(limit):
    """For a child process: cap its address space, so that even where Linux overcommits
    memory a runaway allocation fails at once instead of taking the machine's RAM."""
    def preexec():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return preexec if sys.platform.startswith("linux") else None


def test_bench_reports_a_worker_that_cannot_allocate_its_input():
    # 3 x 100000 x 100000 float32 is 112 GiB: the worker's NumPy refuses it at once
    # (MemoryError, capped at 16 GiB of address space here in any case), or, were it
    # killed instead, its death must be reported as well. It used to hang forever.
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--sizes", "100000",
         "--memory-limit", "off", "--repeats", "1", "--impls", "im2col", "--no-torch",
         "--matmul-sizes"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        preexec_fn=_no_address_space_beyond(16 * 2**30))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert re.match(r"python -m benchmarks.bench: error: bench worker 'im2col' (failed|died) "
                    r"at 100000 px",
                    done.stderr), done.stderr
    assert "MemoryError" in done.stderr or "exit code" in done.stderr
    assert "smaller --sizes" in done.stderr
    assert time.perf_counter() - start < 120


def test_measure_reports_a_killed_worker_and_ends_the_others():
    outcome = {}

    def kill_a_worker():
        deadline = time.monotonic() + 60
        while len(multiprocessing.active_children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)   # both started (their start-up data written): kill one
        os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)

    def run_measure():
        try:
            outcome["result"] = bench.measure(32, ["im2col", "winograd"], repeats=10**6)
        except Exception as error:   # noqa: BLE001 -- inspected below
            outcome["error"] = error

    killer = threading.Thread(target=kill_a_worker, daemon=True)
    runner = threading.Thread(target=run_measure, daemon=True)
    runner.start()
    killer.start()
    runner.join(timeout=120)
    try:
        assert not runner.is_alive(), "measure kept waiting on a dead worker"
        error = outcome.get("error")
        assert isinstance(error, ChildProcessError), outcome
        assert re.fullmatch(r"bench worker '(im2col|winograd)' died at 32 px \(exit code -9: "
                            r"killed, probably out of memory\); try a smaller --sizes",
                            str(error)), str(error)
        assert multiprocessing.active_children() == []   # the other worker ended too
    finally:
        for child in multiprocessing.active_children():
            child.kill()


def test_the_pytorch_objective_is_nst_numpys():
    # The whole-run comparison is fair only if PyTorch minimises the same function:
    # at the start and at another point, the two losses agree to float32 round-off.
    torch = pytest.importorskip("torch")
    from benchmarks import bench_run
    from nst_numpy import image as im
    objective, x0 = bench_run.full_size_objective(*im.quiz_images(), 48)
    loss_of = bench_run.torch_loss(objective)
    x1 = x0 + np.random.default_rng(0).normal(0, 20, x0.shape).astype(np.float32)
    for x in (x0, x1):
        assert float(loss_of(torch.from_numpy(x))) == pytest.approx(float(objective(x)[0]),
                                                                     rel=1e-4)


def test_pytorchs_clamped_run_evaluates_only_pictures_in_bounds_and_the_unbounded_is_clamped():
    # Against nst_numpy's default run, PyTorch is timed on the picture a user gets: the
    # tutorial's variant must evaluate only in-bounds pixels (so its own loss is that
    # picture's), and the unbounded run's curve must hold the losses after clamping.
    pytest.importorskip("torch")
    from benchmarks import bench_run
    from nst_numpy import image as im
    objective, x0 = bench_run.full_size_objective(*im.quiz_images(), 32)
    low, high = im.pixel_bounds(x0.shape, x0.dtype)
    outside = x0 + 200   # most pixels above 255
    curve, evaluated, _, counts = bench_run.run_torch(objective, outside, 3, clamp=True)
    assert len(curve) == counts["evaluations"] > 1 and evaluated == []
    # the closure evaluates the pixels clamped into bounds, not the ones it was given
    clamped = float(objective(np.clip(outside, low, high))[0])
    assert curve[0][1] == pytest.approx(clamped, rel=1e-4)
    assert float(objective(outside)[0]) > 1.5 * clamped
    curve, evaluated, x, _ = bench_run.run_torch(objective, x0 + 200, 6, clamp=False)
    assert any(np.array_equal(x, e) for e in evaluated)   # L-BFGS ends on an evaluated point
    assert any(np.any(x > high) for x in evaluated)   # the start alone leaves the bounds
    clamped = bench_run.clamped_curve(objective, curve, evaluated, every=2)
    times = [t for t, _ in curve]
    for t, loss in clamped:
        assert loss == pytest.approx(bench_run.clamped_loss(objective, evaluated[times.index(t)]))
    assert {1, 3, len(times) - 1} <= {times.index(t) for t, _ in clamped}   # every 2nd, the last


def test_the_stopping_rules_point_is_read_off_a_curve():
    from benchmarks import bench_run
    falling = [(float(k), 100.0 / k) for k in range(1, 40)]   # relative fall ~1/k per step
    k, seconds, loss = bench_run.stop_point(falling, 5e-2)
    assert (seconds, loss) == falling[k - 1] and 10 < k < 39
    assert bench_run.stop_point(falling, 1e-9) == (39, 39.0, 100.0 / 39)


@pytest.mark.parametrize("name", ["pixels, unbounded", "Laplacian pyramid",
                                  "decorrelated colour", "both"])
def test_each_reparameterisation_has_its_adjoint_and_starts_at_the_start(name):
    # L-BFGS on z sees T^T grad f: <T z, g> = <z, T^T g> for random z and g (float32
    # products of a few thousand terms: agreement to 1e-5 relative), and T(start(x0)) = x0.
    from benchmarks import parameterisation
    rng = np.random.default_rng(0)
    x0 = rng.normal(100, 40, (3, 37, 50)).astype(np.float32)
    x0[1] += 0.8 * x0[0]   # correlated colours, as in a photograph
    T = parameterisation.MAPS[name](x0)
    z = rng.normal(size=T.start(x0).shape).astype(np.float32)
    g = rng.normal(size=x0.shape).astype(np.float32)
    assert np.sum(T(z) * g, dtype=np.float64) == pytest.approx(
        np.sum(z * T.adjoint(g), dtype=np.float64), rel=1e-5)
    np.testing.assert_allclose(T(T.start(x0)), x0, rtol=0, atol=1e-3)


def test_the_multiscale_recipes_sizes_grow_by_the_square_root_of_two():
    from benchmarks.multiscale_adam import recipe_sides
    assert recipe_sides(512) == [128, 181, 256, 362, 512]
    assert recipe_sides(256) == [128, 181, 256]
