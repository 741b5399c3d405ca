"""``nst-numpy bench``: its FLOP count and a tiny end-to-end run (32 px, no PyTorch)."""

import numpy as np
import pytest

from nst_numpy import bench, cli


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
    code = cli.main(["bench", "--sizes", "32", "--repeats", "1", "--no-torch",
                     "--matmul-sizes", "64"])
    out = capsys.readouterr().out
    assert code == 0
    assert "numpy.matmul float32 64x64" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("32 ")]
    assert [row[1] for row in rows] == ["im2col", "winograd"]
    assert all(float(row[2]) > 0 for row in rows)


def test_bench_times_the_im2col_products_alone_on_request(capsys):
    code = cli.main(["bench", "--sizes", "32", "--repeats", "1", "--no-torch",
                     "--matmul-sizes", "64", "--impls", "im2col", bench.GEMMS_ONLY])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.strip().startswith("32 ")]
    assert code == 0
    assert [row[1] for row in rows] == ["im2col", bench.GEMMS_ONLY]
    assert all(float(row[2]) > 0 for row in rows)


@pytest.mark.parametrize("argv,message", [(["--sizes", "16"], "at least 32 px"),
                                          (["--repeats", "0"], "at least one round")])
def test_bench_rejects_bad_options(argv, message, capsys):
    assert cli.main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err
