"""Run every notebook in ``notebooks/`` top to bottom, as CI does (issue 5), in the lecturer's
version and in the student release, and check what each one shows, and what it must not.

Image size comes from ``NST_NOTEBOOK_SIZE`` (pixels of the longer side); unset, the
notebooks pick their small CI default. The full-size run is documented in
``notebooks/README.md``.

Running is not enough: a notebook whose solution prints ``gradient check FAILED``, draws no
figure, or prints a number contradicting its prose would still run. So the executed
lecturer's version is also checked against

- its check lines (``gradient check`` from ``gradcheck.check_gradient`` and ``answer check``
  from ``answers.check_answer``): every check prints ``ok``, except the failures the
  notebook makes on purpose (``EXPECTED_FAILED_CHECKS``), and every graded check cell scores
  its full points;
- its stream outputs: no traceback and no warning (``RuntimeWarning`` from NumPy, ...);
- its figures: every cell calling ``plt.show()`` (outside a function it defines) draws one, and ``FIGURES`` counts them;
- the lines it prints (``PRINTED``) and the facts its prose states, asserted on its own
  variables in a cell appended to it before it runs (``FACTS``).

The student release (:func:`nst_numpy.course.student_copy`) must run to its end with every
check FAILED and scoring 0, and show no answer: ``test_student_release_shows_no_answer``
says how the answers it searches for are derived from the solution cells.
"""

import ast
import functools
import json
from pathlib import Path
import re

import pytest

from nst_numpy import course

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the test extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the test extra (nbclient)")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
# A kernel takes a few seconds to start; the longest notebook (Q12) runs two style transfers.
TIMEOUT_SECONDS = 900
# The course has at least this many exercises (issue 25), every notebook at least one.
MIN_EXERCISES = 32

# image/png outputs each notebook draws (at least this many).
FIGURES = {
    "01_content_loss.ipynb": 0,
    "02_style_loss.ipynb": 1,   # F, F shuffled, and their common Gram matrix
    "03_update_step.ipynb": 1,   # the loss curves of eq (8) as printed and of descent
    "04_pretrained_features.ipynb": 3,   # the two images, feature maps, Gram heatmaps
    "05_no_training_data.ipynb": 2,   # turtle + rings / wave; noise vs content init
    "06_q12_style_layers.ipynb": 4,     # small runs, spectra, the 512 px pair, their spectra
    "07_inversion_texture.ipynb": 3,    # the reconstructions, the textures, the gap closed
    "08_build_it_yourself.ipynb": 1,    # content, style, and the student's own picture
}

# Gradient checks a notebook makes fail on purpose (the start of the printed line).
EXPECTED_FAILED_CHECKS = {
    "02_style_loss.ipynb": ['with w_1: gradient check FAILED'],   # erratum 3: w_1 is wrong
}

# Lines the notebook must print (regular expressions, each matched against a whole line of
# the notebook's text output): results shown only in output, not kept in a variable.
PRINTED = {
    "02_style_loss.ipynb": [
        # Q4: shuffling the positions leaves the Gram matrix unchanged ...
        r'Gram matrix unchanged by shuffling positions: True',
        # ... while the content loss sees the shuffle (a loss of at least 1)
        r'content loss between F and its shuffle: [1-9]\d*\.\d+',
        # erratum 1: the shapes, printed
        r'F\^l has shape \(4, 6\); eq \(6\) as printed has shape \(6, 4\)',
        # Q5: the solution's gradient is the library's, and so is the printed eq (6) transposed
        r"your gradient equals the library's: True",
        r"the printed eq \(6\), transposed, equals the library's gradient: True",
        # Q6: with the right w_l the library's total-loss gradient passes the check
        r'with w_l: gradient check ok: .*',
        r'at relu1_1 the two gradients agree: True',
    ],
    "05_no_training_data.ipynb": [
        # Q11: from noise, the content image goes through the network once (for P^l) ...
        r"init='noise'\s+forward passes of the content image: 1, of other images: [1-9]\d*",
        # ... from the content image, once more: the first evaluation, at the start
        r"init='content'\s+forward passes of the content image: 2, of other images: [1-9]\d*",
    ],
    "06_q12_style_layers.ipynb": (
        # the layer tables: role, field, units, and the warning where the field is wider
        [rf"{layer}\s+(held out|style \(3 and 5\)|style \(5 only\))\s+{field} px\s+\d+x\d+"
         rf"(\s+wider than the image)?"
         for layer, field in (("relu1_1", 3), ("relu2_1", 10), ("relu2_2", 14), ("relu3_1", 24),
                              ("relu3_3", 40), ("relu4_1", 68), ("relu4_3", 100),
                              ("relu5_1", 156), ("relu5_3", 220))]
        + [r"image 64x48 px", r"image 512x384 px"]
        # the gap closed at the held-out layers (small runs and gallery)
        + [rf"{layer}\s+{field} px\s+-?\d+%\s+-?\d+%(\s+\(field wider than the image\))?"
           for layer, field in (("relu2_2", 14), ("relu3_3", 40), ("relu4_3", 100), ("relu5_3", 220))]
        # the low-frequency shares at each style layer's field
        + [rf"{layer} field, {field} px\s+\d+\s+(\d+\.\d%\s+\d+\.\d%|\s*no ring below .*)"
           for layer, field in (("relu2_1", 10), ("relu3_1", 24), ("relu4_1", 68), ("relu5_1", 156))]
        + [r"energy of the change \(mean removed\), 5 layers / 3 layers: \d+\.\d\d"]
        # JPEG round trip of the small results
        + [rf"first {n} layers: low-frequency share \d+\.\d\d% as PNG, \d+\.\d\d% after JPEG; "
           rf"the JPEG error has \d+\.\d% of the change's energy, \d+% of it above the cutoff"
           for n in (3, 5)]
        # the gallery's commands, from its record.json (shipped as nst_numpy/data/q12_record.json)
        + [r"nst-numpy stylize \S+green_sea_turtle.jpg \S+great_wave.jpg --size 512 --iterations 150 "
           r"--style-layers relu1_1,relu2_1,relu3_1 -o docs/_static/gallery/q12_3.jpg",
           r"nst-numpy stylize \S+green_sea_turtle.jpg \S+great_wave.jpg --size 512 --iterations 150 "
           r"-o docs/_static/gallery/q12_5.jpg"]
        # the 5-layer result's lead at each held-out layer (small runs and gallery), and the
        # ratio of the gallery's low-frequency shares, which the closing prose reads
        + [r"small runs, 64x48 px", r"gallery, 512x384 px"]
        + [rf"\s+{layer}\s+lead of the 5-layer result:\s+[+-]\d+ points(\s+\(field wider than the image\))?"
           for layer in ("relu2_2", "relu3_3", "relu4_3", "relu5_3")]
        + [r"gallery, periods longer than relu3_1's field: the 5-layer change's low-frequency share "
           r"is \d+\.\d times the 3-layer change's"]
    ),
    "01_content_loss.ipynb": [
        r"your gradient equals the library's: True",
        r"same as layers\.relu_backward: True",
        r"same as layers\.max_pool_backward: True",
        r"same as layers\.conv2d_backward: True",
        r"relu2_1_from reproduces the network's relu2_1: True",
        r"your total derivative equals VGG\.backward's: True",
        r"total == partial at relu2_1: True",
        r"your pixel gradient equals VGG\.backward's: True",
    ],
    "07_inversion_texture.ipynb": [
        # the starting loss check: every run starts at beta
        r"starting style loss / BETA: \[1\.0, 1\.0, 1\.0, 1\.0, 1\.0\]",
    ],
}

# Facts each notebook's prose relies on, asserted in a cell appended to the notebook (the
# full version, after every cell has run), on the notebook's own variables. Each entry is
# one statement; all are run and every one that fails is reported.
FACTS = {
    "01_content_loss.ipynb": [
        # eq (1): the library's L_content^l is 1/2 sum (F - P)^2, as printed next to it
        'assert np.isclose(value, 0.5 * np.sum((F - P) ** 2)), (value, 0.5 * np.sum((F - P) ** 2))',
        # Q2: the library returns F - P as the gradient of eq (1)
        'assert np.array_equal(library_grad, F - P)',
        # Q2's tolerance text: a correct gradient agrees to about 1e-9 (well under 1e-8) ...
        'assert gradcheck.check_gradient(content_value, F, content_layer_grad(F, P)).max_relative_error '
        '< 1e-8',
        # ... a wrong sign or a factor of 2 is off by 0.3 or more
        'assert min(gradcheck.check_gradient(content_value, F, g).max_relative_error '
        'for g in (P - F, 2 * (F - P), 0.5 * (F - P))) >= 0.3',
        # ReLU check: every entry of x more than 100 steps away from the kink at 0
        'assert np.abs(x_relu).min() > 100 * gradcheck.default_step(x_relu).max(), np.abs(x_relu).min()',
        # max-pool check: each window's two largest entries more than 1000 steps apart
        'assert min_gap > 1000 * gradcheck.default_step(x_pool).max(), min_gap',
        # the solutions' backward passes equal the library's
        'assert np.array_equal(relu_grad(dout_relu, x_relu), '
        'layers.relu_backward(dout_relu, layers.relu_forward(x_relu)[1]))',
        'assert np.array_equal(max_pool_grad(dout_pool, x_pool), '
        'layers.max_pool_backward(dout_pool, layers.max_pool_forward(x_pool)[1]))',
        'assert all(np.allclose(a, b) for a, b in zip(conv_grad(dout_conv, x_conv, w_conv, b_conv), '
        'layers.conv2d_backward(dout_conv, layers.conv2d_forward(x_conv, w_conv, b_conv)[1])))',
        # the check's path from relu1_1 to relu2_1 is the network's
        "assert np.array_equal(relu2_1_from(acts['relu1_1']), acts['relu2_1'])",
        # "this loss is in the thousands"
        'assert 1e3 <= L < 1e4, L',
        # Q3: the partial derivative of eq (2) at relu1_1 is F - P there
        "assert np.array_equal(partials['relu1_1'], F_now['relu1_1'] - P_targets['relu1_1'])",
        # Q3: the solution's total derivative is VGG.backward's
        'assert np.allclose(total_at_relu1_1(acts, partials), total_at_1)',
        # ... and the partial alone fails the check by orders of magnitude
        "assert gradcheck.check_gradient(content_value_at_relu1_1, acts['relu1_1'], partials['relu1_1'], "
        "num_samples=40).max_relative_error > 1e-2",
        # Q3: the total derivative at the shallow layer differs from the partial one, by a
        # share of the same size as the partial itself (not a rounding difference)
        "assert 1 / 3 < np.linalg.norm(from_deeper) / np.linalg.norm(partials['relu1_1']) < 3, "
        "np.linalg.norm(from_deeper) / np.linalg.norm(partials['relu1_1'])",
        # Q3: at the deepest content layer the total and the partial derivative coincide
        "assert np.array_equal(total_at_2, partials['relu2_1'])",
        # the solution's pixel gradient is VGG.backward's
        'assert np.allclose(content_grad_pixels(x, acts, partials), pixel_grad_library)',
    ],
    "02_style_loss.ipynb": [
        # Q4: the computed answers to the prediction exercise (shuffle and mirror keep G; permuting
        # the filters and scaling change it)
        "assert unchanged == {'shuffle positions': True, 'mirror': True, 'permute filters': False, "
        "'scale by 2': False}, unchanged",
        # Q4 solution: permuting the filters moves G's entries (the same numbers in other places) ...
        'assert np.allclose(losses.gram_matrix(maps[filter_order]), '
        'losses.gram_matrix(maps)[np.ix_(filter_order, filter_order)])',
        # ... and scaling F by 2 multiplies G by 4
        'assert np.allclose(losses.gram_matrix(2 * maps), 4 * losses.gram_matrix(maps))',
        # dG_ab/dF: for a = b, row a holds 2 F_a and every other row is zero
        'assert np.array_equal(gram_entry_grad(F, 2, 2)[2], 2 * F[2]) '
        'and not np.any(np.delete(gram_entry_grad(F, 2, 2), 2, axis=0))',
        # erratum 1: eq (6) as printed is M x N, while F (and so its gradient) is N x M
        'assert N != M and F.shape == (N, M) and printed_eq6.shape == (M, N), (F.shape, '
        'printed_eq6.shape)',
        # Q5: the transpose of the printed eq (6) is the gradient, the solution's and the library's
        'assert np.allclose(printed_eq6.T, style_layer_grad(F, A)) and np.allclose(printed_eq6.T, '
        'losses.style_layer_loss(F, A)[1])',
        # Q6: the solution's total_grad is the library's gradient of eq (7) with w_l
        "assert np.allclose(total_grad(Fs['relu2_1'], Ps['relu2_1'], As['relu2_1'], alpha, beta, "
        "w['relu2_1']), grads_wl['relu2_1'])",
        # erratum 3: w_1 in place of w_l gives a different gradient at layer 2, the same at layer 1
        "assert not np.allclose(grads_w1['relu2_1'], grads_wl['relu2_1']) and "
        "np.allclose(grads_w1['relu1_1'], grads_wl['relu1_1'])",
        # clarification 2: some conv1_1 units are inactive and some active ...
        'assert 0 < inactive.mean() < 1, inactive.mean()',
        # ... the relu1_1 gradient is not zero on all the inactive ones (so the mask matters) ...
        "assert np.any(grads['relu1_1'][inactive] != 0)",
        # ... and the gradient at the pre-activation is zero on exactly those
        'assert np.all(at_pre_activation[inactive] == 0)',
        "assert np.array_equal(at_pre_activation[~inactive], grads['relu1_1'][~inactive])",
    ],
    "03_update_step.ipynb": [
        # Exercise 1: the solved objective is the library Objective's loss and gradient
        'assert np.isclose(L_lib, L_own) and np.allclose(dx_lib, dx_own)',
        # Exercise 2's tolerance: at eta = 1e-7 ... 1e-5 the measured change is s eta ||g||^2 to
        # within 1e-3 (the dropped terms stay below 1e-3 of the change) ...
        'assert all(np.all(np.abs(measured_change[s] / (s * etas * np.sum(g0 ** 2)) - 1) < 1e-3) '
        'for s in (1, -1)), measured_change',
        # ... round-off in the two values of L is smaller still ...
        'assert 16 * np.finfo(np.float64).eps * abs(L0) < 1e-3 * np.min(np.abs(measured_change[-1]))',
        # ... and a wrong power, factor or sign misses by 50% or more
        'assert all(np.min(np.abs(wrong / measured_change[1] - 1)) >= 0.5 for wrong in '
        '(0.5 * etas * np.sum(g0 ** 2), etas * np.linalg.norm(g0), etas ** 2 * np.sum(g0 ** 2), '
        '-etas * np.sum(g0 ** 2), 2 * etas * np.sum(g0 ** 2)))',
        # eta = 0.02 is 2000 times the largest step of the check
        'assert np.isclose(eta / etas.max(), 2000)',
        # erratum 2: eq (8) as printed (+) raises the loss at every step, staying finite ...
        'assert np.all(np.isfinite(quiz_sign)) and np.all(np.diff(quiz_sign) > 0), quiz_sign',
        # ... each climbing step adds more than the one before ...
        'assert np.all(np.diff(quiz_sign, 2) > 0), np.diff(quiz_sign)',
        # ... and the corrected step (-) lowers it at every step
        'assert np.all(np.diff(descent) < 0), descent',
        # ... the printed step, run for a dozen steps, overflows float64
        'from nst_numpy.objective import NonFiniteLoss\n'
        'try:\n    run(+1, 12)\n    overflowed = False\nexcept NonFiniteLoss:\n'
        '    overflowed = True\nassert overflowed, "12 steps of eq (8) as printed stayed finite"',
        # optim.gradient_descent is the corrected eq (8): it ends where the hand loop ends
        'assert np.isclose(result.loss, descent[-1], rtol=1e-9, atol=0), (result.loss, descent[-1])',
        # erratum 4: the corrected Q7 step is F - eta * gradient, and it lowers the layer's
        # loss while the step as printed raises it
        "assert np.allclose(corrected, F - eta1 * grad['l'])",
        'assert layer_loss(corrected)[0] < L_before < layer_loss(as_printed)[0], '
        '(layer_loss(corrected)[0], L_before, layer_loss(as_printed)[0])',
        # Exercise 4's tolerance: a misplaced parenthesis or sign changes some entry by a percent
        # or more (relative to the right step)
        "assert all(np.max(np.abs(wrong - corrected) / np.abs(corrected)) > 1e-2 for wrong in ("
        "F - eta1 * alpha * (F - P1) - style_term, as_printed, F - eta1 * (alpha * (F - P1) - style_term), "
        "F - eta1 * (-alpha * (F - P1) + style_term), F + eta1 * grad['l']))",
        # Exercise 5: many relu2_1 entries are exactly 0, some of them with a positive gradient,
        # so every step size tried makes at least those entries negative
        'assert np.mean(F_relu == 0) > 0.25, np.mean(F_relu == 0)',
        'assert all(np.mean(F_relu - e * g_relu < 0) >= np.mean((F_relu == 0) & (g_relu > 0)) > 0 '
        'for e in step_sizes)',
        # a direct step on F^relu2_1 makes entries negative, which no ReLU output can be
        'assert np.mean(F_stepped < 0) > 0',
    ],
    "04_pretrained_features.ipynb": [
        # the receptive fields quoted in the summary and in notebook 6: 3 px ... 156 px
        "assert [fields[layer] for layer in style_layers] == [3, 10, 24, 68, 156], fields",
        # shallow layers work at full resolution
        "assert turtle_acts['relu1_1'].shape[1:] == turtle.shape[:2], turtle_acts['relu1_1'].shape",
        # the Gram heatmaps: relu1_1 has 64 filters, relu3_1 256 (of which the first 64 are shown)
        "assert turtle_acts['relu1_1'].shape[0] == 64 and turtle_acts['relu3_1'].shape[0] == 256",
        # the mirrored wave is closer to the wave in style than the turtle at every layer ...
        "assert min(style_ratios) > 1, style_ratios",
        # ... by an order of magnitude or more at the shallow ones (relu1_1, relu2_1)
        "assert min(style_ratios[:2]) > 10, style_ratios",
        # in content it is about as far from the wave as the turtle is (a ratio near 1) ...
        "assert 0.5 < L_turtle / L_mirror < 2, L_turtle / L_mirror",
        # ... and even a little farther (the ratio turtle / mirrored wave is below 1)
        "assert L_mirror > L_turtle, (L_mirror, L_turtle)",
        # exercise 1: the fields measured by back-propagation are the recursion's (3 ... 156 px),
        # at the style layers, the content layer relu4_2 and pool4
        "assert measured_fields == {'relu1_1': 3, 'relu2_1': 10, 'relu3_1': 24, 'relu4_1': 68, "
        "'relu4_2': 84, 'pool4': 124, 'relu5_1': 156}, measured_fields",
        # exercise 2: mirroring changes the Gram matrices (the filters are not symmetric) ...
        "assert not all(np.allclose(G_mirror[l], A[l], rtol=1e-4, atol=0) for l in style_layers) "
        "and kernel_asymmetry > 0.5, kernel_asymmetry",
        # ... least at relu1_1 and most at relu5_1
        "assert int(np.argmin(mirror_change)) == 0 and int(np.argmax(mirror_change)) == 4, mirror_change",
        # exercise 3: the mirrored wave is closer in style than the turtle at every layer
        "assert all(E_mirror[l] < E_turtle[l] for l in style_layers), (E_mirror, E_turtle)",
        # ... with the smallest margin at relu5_1
        "assert int(np.argmin(style_ratios)) == 4, style_ratios",
    ],
    "05_no_training_data.ipynb": [
        # Q11: from the content image the run keeps the layout better: a lower content loss
        "assert runs['content'].history['content'][-1] < runs['noise'].history['content'][-1], "
        "{i: r.history['content'][-1] for i, r in runs.items()}",
        # Q9: the run really changed the image (so "weights unchanged" is not vacuous) ...
        'assert result.iterations == ITERATIONS and result.stopped is None, result.message',
        'assert not np.array_equal(result.image, turtle)',
        # ... and the weights did not change
        'assert all(before[name] == after[name] for name in before)',
        # Q9: the optimiser's unknowns are the 3 H W pixel values; the network has 20 million weights
        'assert result.x.shape == (3,) + turtle.shape[:2], result.x.shape',
        'assert 19e6 < n_weights < 21e6, n_weights',
        # Q10: the style image itself has style loss 0 towards its own targets ...
        'assert style_loss_towards_rings(rings) == 0',
        # Q10: a new style changes A only, and computing A takes one forward pass of the style image
        "assert {name for name, changed in differs.items() if changed} == {'style targets A'}, differs",
        "_n = [0]\n_f = model.forward\nmodel.forward = lambda x, l: (_n.__setitem__(0, _n[0] + 1), _f(x, l))[1]\n"
        "try:\n    terms.style_targets(model, [image.preprocess(rings)], style_layers)\n"
        "finally:\n    del model.forward\nassert _n[0] == 1, _n",
        # Q10: the style loss towards the rings falls far below (under half) that of the start
        "assert ringed.history['style'][-1] < ringed.initial.style / 2, "
        "(ringed.initial.style, ringed.history['style'])",
        # Q11: the run from the content image fed the content image to the network twice
        "assert calls['content image'] == 2, calls",
        "assert passes == {'noise': 1, 'content': 2}, passes",
        # both Q11 runs lower the total loss at every iteration, ending below their start
        "assert all(np.all(np.diff([r.initial.total] + r.history['total']) <= 0) and r.loss < "
        "r.initial.total for r in runs.values()), {init: [r.initial.total] + r.history['total'] for init, "
        'r in runs.items()}',
    ],
    "06_q12_style_layers.ipynb": [
        # both runs use all their iterations and lower the total loss at every iteration
        'assert all(r.iterations == ITERATIONS and r.stopped is None for r in results.values()), {n: '
        'r.message for n, r in results.items()}',
        "assert all(np.all(np.diff([r.initial.total] + r.history['total']) <= 0) and r.loss < "
        "r.initial.total for r in results.values()), {n: [r.initial.total] + r.history['total'] for n, r "
        'in results.items()}',
        # the default style weights are 1 / (number of style layers): eq (5) is then the mean E_l
        "from nst_numpy import losses as _losses\n"
        "_F = {l: np.arange(6.0).reshape(2, 3) + k for k, l in enumerate('abc')}\n"
        "_A = {l: np.eye(2) * (k + 1) for k, l in enumerate('abc')}\n"
        "assert np.isclose(_losses.style_loss(_F, _A)[0], "
        "np.mean([_losses.style_layer_loss(_F[l], _A[l])[0] for l in 'abc']))",
        # exercise 1: relu5_1's field is 156 px, wider than the 64 px image, with 4 units along it
        "assert field_relu5_1 == fields['relu5_1'] == 156, fields['relu5_1']",
        'assert max(turtle.shape[:2]) == 64 and max(turtle.shape[:2]) >> 4 == 4, turtle.shape',
        # at the small size the fields of relu4_1 and everything deeper are wider than the image
        "assert [layer for layer, w in wider.items() if w] == ['relu4_1', 'relu4_3', 'relu5_1', "
        "'relu5_3'], wider",
        # the small runs: at the held-out layers whose fields fit, the 5-layer run closed more ...
        'assert any(not wider[layer] for layer in held_out) and all(closed[5][layer] > closed[3][layer] '
        'for layer in held_out if not wider[layer]), closed',
        # ... and its change has the larger low-frequency share (exercise 2) ...
        'assert low_share[5] > low_share[3], low_share',
        # ... at every cutoff with a ring below it ...
        'assert all(analysis.low_frequency_share(spectra[5], 1 / fields[layer]) > '
        'analysis.low_frequency_share(spectra[3], 1 / fields[layer]) for layer in style_layers[5][1:] '
        'if np.any((spectra[3].frequency > 0) & (spectra[3].frequency < 1 / fields[layer]))), spectra',
        # ... but at relu5_3, whose field is far wider than the image, the order reverses: both
        # runs end farther from the wave than the photograph, the 5-layer run the farther
        "assert closed[5]['relu5_3'] < closed[3]['relu5_3'] < 0, closed",
        # ... with few rings below relu3_1's cutoff and none below relu4_1's
        'assert 0 < np.sum((spectra[3].frequency > 0) & (spectra[3].frequency < cutoff)) <= 3, '
        'spectra[3].frequency',
        "assert not np.any((spectra[3].frequency > 0) & (spectra[3].frequency < 1 / fields['relu4_1']))",
        # JPEG q95 moves the share by a small fraction of a point, far less than the runs differ
        # (at either size), and almost all of its error lies above the cutoff
        "assert all(abs(e['share after JPEG'] - e['share as PNG']) < 0.005 for e in jpeg_error.values()), "
        'jpeg_error',
        "assert all(abs(e['share after JPEG'] - e['share as PNG']) < 0.1 * min(low_share[5] - low_share[3], "
        'big_low_share[5] - big_low_share[3]) for e in jpeg_error.values()), jpeg_error',
        "assert all(e['error energy above the cutoff'] > 0.9 for e in jpeg_error.values()), jpeg_error",
        # the gallery pictures are there (this repo ships them), at 512 px, every held-out field fits
        'assert max(big_turtle.shape[:2]) == 512, big_turtle.shape',
        'assert not any(big_wider[layer] for layer in held_out), big_wider',
        # at 512 px the 5-layer picture closed more of the gap at every held-out layer ...
        'assert all(big_closed[5][layer] > big_closed[3][layer] for layer in held_out), big_closed',
        # ... a little more at relu2_2, over 30 points more at the three deeper ones ...
        "assert 0 < lead['relu2_2'] < 0.1, lead",
        "assert min(lead[layer] for layer in ('relu3_3', 'relu4_3', 'relu5_3')) > 0.3, lead",
        # exercise 3: the held-out layers of blocks only the 5-layer run optimised ...
        "assert only_in_5 == {'relu4_3', 'relu5_3'}, only_in_5",
        # ... are where the 3-layer picture closed the least (under a fifth of the gap), and the
        # 5-layer lead is largest at relu4_3; less than half of the gap closed at relu5_3
        "assert max(big_closed[3][l] for l in only_in_5) < 0.2 < min(big_closed[3][l] for l in "
        "set(held_out) - only_in_5), big_closed",
        "assert max(lead, key=lead.get) == 'relu4_3', lead",
        "assert big_closed[5]['relu5_3'] < 0.5, big_closed",
        # the 3-layer picture hardly moves relu4_3, gets over half way at relu2_2 and relu3_3
        "assert big_closed[3]['relu4_3'] < 0.2, big_closed",
        "assert min(big_closed[3]['relu2_2'], big_closed[3]['relu3_3']) > 0.5, big_closed",
        # the 5-layer change has the larger low-frequency share at every cutoff of the table, more
        # than twice the 3-layer's at relu3_1's field; and more energy overall
        'assert all(analysis.low_frequency_share(big_spectra[5], 1 / fields[layer]) > '
        'analysis.low_frequency_share(big_spectra[3], 1 / fields[layer]) for layer in style_layers[5][1:])',
        'assert big_low_share[5] > 2 * big_low_share[3], big_low_share',
        'assert big_energy[5] > big_energy[3], big_energy',
    ],
    "08_build_it_yourself.ipynb": [
        # the solutions' losses are the library's ...
        "assert np.isclose(content_loss(F_small, P_small)[0], losses.content_layer_loss(F_small, P_small)[0], "
        "rtol=1e-12, atol=0)",
        "assert np.allclose(style_loss(F_layer, A_layer)[1], losses.style_layer_loss(F_layer, A_layer)[1], "
        "rtol=1e-12, atol=0)",
        "assert np.allclose(tv_loss(x_image)[1], losses.total_variation_loss(x_image)[1], rtol=0, atol=0)",
        # ... and the capstone's objective is the library's to round-off, at the loss and the pixels
        "assert np.isclose(L_mine, L_library, rtol=1e-12, atol=0) and np.allclose(dx_mine, dx_library, "
        "rtol=1e-10, atol=0), (L_mine, L_library)",
        # the capstone run used every iteration and lowered the loss by more than half
        "assert result.iterations == ITERATIONS and result.stopped is None, result.message",
        "assert result.loss < result.initial.total / 2, (result.initial.total, result.loss)",
        # ... and changed the picture
        "assert np.abs(result.image.astype(float) - turtle).mean() > 1, "
        "np.abs(result.image.astype(float) - turtle).mean()",
    ],
    "07_inversion_texture.ipynb": [
        # Part 1, exercise 1: the pixel error grows with depth, relu1_1 closest, relu5_1 farthest
        "assert sorted(style_layers, key=pixel_error.get) == style_layers, pixel_error",
        # the solution: the deep runs end with a larger feature error than relu1_1's
        "assert e_end['relu5_1'] > e_end['relu1_1'], e_end",
        # every reconstruction's feature error at its own layer is less than half the noise's
        "assert all(e_end[l] < 0.5 * e_start[l] for l in style_layers), (e_start, e_end)",
        # relu1_1 gives the photograph back within a few grey levels, colours included
        "assert pixel_error['relu1_1'] < 5 and colour_shift['relu1_1'] < 2, (pixel_error, colour_shift)",
        # the colours drift in the deeper reconstructions
        "assert min(colour_shift[l] for l in style_layers[2:]) > 10, colour_shift",
        # even relu5_1's reconstruction still correlates with the photograph block by block,
        # unlike the noise
        "assert kept_layout['relu5_1'] > 0.15 and kept_layout['relu5_1'] > noise_layout + 0.1, "
        "(kept_layout, noise_layout)",
        # relu4_1's and relu5_1's reconstructions keep part of the layout, more than the noise
        "assert min(kept_layout['relu4_1'], kept_layout['relu5_1']) > noise_layout + 0.1, "
        "(kept_layout, noise_layout)",
        # the solution's '64 channels for 3 colours at every pixel' at relu1_1
        "assert model.features(x_photo, ['relu1_1'])['relu1_1'].shape == (64,) + turtle.shape[:2]",
        # Part 2: the noise's E_l differ between layers by orders of magnitude
        "assert max(E_noise.values()) / min(E_noise.values()) > 100, E_noise",
        # ... so with w_l = 1/5 the starting loss would be almost one layer's
        "assert largest_share > 0.9, largest_share",
        # with w_l = 1 / (n E_l(noise)) every run starts at a style loss of beta
        "assert all(abs(t.initial.style / BETA - 1) < 1e-3 for t in textures.values()), "
        "[t.initial.style / BETA for t in textures.values()]",
        "assert all(t.stopped in (None, 'converged') for t in textures.values()), "
        "[t.message for t in textures.values()]",
        # exercise 2: 3 layers win at relu1_1 ... relu3_1, 5 layers at relu4_1 and relu5_1
        "assert {l: 3 if closed[3][l] > closed[5][l] else 5 for l in style_layers} == {'relu1_1': 3, "
        "'relu2_1': 3, 'relu3_1': 3, 'relu4_1': 5, 'relu5_1': 5}, closed",
        # the 3-layer run gets part of the way at relu4_1, less far at relu5_1
        "assert 0 < closed[3]['relu5_1'] < closed[3]['relu4_1'], closed",
        # the margins at the shallow layers are small, the one at relu5_1 large
        "assert max(closed[3][l] - closed[5][l] for l in style_layers[:3]) "
        "< (closed[5]['relu5_1'] - closed[3]['relu5_1']) / 3, closed",
        # the staircase: each texture closes most of the gap at every layer it was optimised for ...
        "assert all(closed[n][l] > 0.5 for n in closed for l in style_layers[:n]), closed",
        # ... and less at every layer to the right of the diagonal
        "assert all(max(closed[n][l] for l in style_layers[n:]) "
        "< min(closed[n][l] for l in style_layers[:n]) for n in range(1, 5)), closed",
        # at relu5_1 the 5-layer texture is ahead of every other ...
        "assert all(closed[5]['relu5_1'] > closed[n]['relu5_1'] for n in range(1, 5)), closed",
        # ... and the 2-layer texture ends farther from the wave than the noise
        "assert closed[2]['relu5_1'] < 0, closed",
        # the solution's fields: relu4_1 and relu5_1 units see 68 and 156 px
        "assert (fields['relu4_1'], fields['relu5_1']) == (68, 156), fields",
        # at the CI size the picture is smaller than a relu5_1 unit's field
        "assert max(wave.shape[:2]) < fields['relu5_1'], (wave.shape, fields['relu5_1'])",
    ],
}

CHECK_LINE = re.compile(r"^.*(?:gradient|answer) check (?:ok|FAILED).*$", re.MULTILINE)
FAILED = re.compile(r"(?:gradient|answer) check FAILED")
OK = re.compile(r"(?:gradient|answer) check ok")
WARNING = re.compile(r"\b\w*Warning\b|Traceback \(most recent call last\)")
ANSWERS_MARK = "exercise answers: "


def execute(notebook):
    client = nbclient.NotebookClient(
        notebook, timeout=TIMEOUT_SECONDS, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    return notebook


def text_output(cell):
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def score_shown(cell):
    """The number a check cell ends with (its execute_result), or None."""
    results = [o for o in cell.get("outputs", []) if o.get("output_type") == "execute_result"]
    return float(results[-1]["data"]["text/plain"]) if results else None


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def facts_cell(facts):
    """A code cell running every statement in ``facts`` and failing with all that fail."""
    source = "\n".join([
        "_facts_failed = []",
        f"for _fact in {facts!r}:",
        "    try:",
        "        exec(_fact, globals())",
        "    except Exception as _error:",
        "        _facts_failed.append(f'{_fact}\\n    -> {type(_error).__name__}: {_error}')",
        "assert not _facts_failed, 'facts that no longer hold:\\n' + '\\n'.join(_facts_failed)",
    ])
    return nbformat.v4.new_code_cell(source)


def answers_cell(names):
    """A code cell printing the value of each exercise variable, as JSON (sets as sorted lists)."""
    return nbformat.v4.new_code_cell("\n".join([
        "import json as _json",
        "def _plain(v):",
        "    if isinstance(v, (set, frozenset)):",
        "        return sorted(map(_plain, v))",
        "    if isinstance(v, dict):",
        "        return {str(k): _plain(x) for k, x in v.items()}",
        "    if isinstance(v, (list, tuple)):",
        "        return [_plain(x) for x in v] if isinstance(v, list) else {'tuple': repr(v)}",
        "    return v.item() if hasattr(v, 'item') else v",
        f"print({ANSWERS_MARK!r} + _json.dumps({{n: _plain(globals()[n]) for n in {names!r}}}))",
    ]))


def raw(path):
    return json.loads(path.read_text(encoding="utf-8"))


def value_exercises(notebook):
    """Names of the exercises whose answer is a value (a variable), not a function or class."""
    names = []
    for name, index, _, _ in course.exercises(notebook):
        placeholder = course.clear_solution_regions(course.source(notebook["cells"][index]))
        if any(isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name
               for node in ast.parse(placeholder).body):
            names.append(name)
    return names


@functools.lru_cache(maxsize=None)
def executed(path, version):
    """The notebook executed top to bottom: the lecturer's version ("solution", with its FACTS
    and a cell printing the exercises' values appended) or the student release ("student").
    Each test module run executes each version once."""
    notebook = raw(path)
    if version == "student":
        notebook = course.student_copy(notebook)
    node = nbformat.reads(json.dumps(notebook), as_version=4)
    nbformat.validate(node)
    if version == "solution":
        assert FACTS.get(path.name), f"{path.name}: no FACTS to check after it runs"
        node.cells.append(facts_cell(FACTS[path.name]))
        node.cells.append(answers_cell(value_exercises(notebook)))
    return execute(node)       # fails here, listing them, if any of FACTS no longer holds


def shows_a_figure(code):
    """Whether ``code`` calls plt.show() when it runs (not only inside a function it defines)."""
    def calls_show(node):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            return False
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "plt.show":
            return True
        return any(calls_show(child) for child in ast.iter_child_nodes(node))
    return calls_show(ast.parse(code))


def assert_clean_outputs(name, notebook):
    """No error output, no warning or traceback in any stream, a figure from every plt.show()."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        assert not errors, f"{name}, cell {index}: error output {errors}"
        for output in outputs:
            if output.get("output_type") == "stream":
                found = WARNING.search(output.get("text", ""))
                assert not found, (
                    f"{name}, cell {index}: {output.get('name')} shows {found.group()!r}:\n"
                    f"{output.get('text')}")
        if shows_a_figure(cell.source):
            pngs = sum("image/png" in o.get("data", {}) for o in outputs)
            assert pngs == 1, f"{name}, cell {index} calls plt.show() but drew {pngs} figures"


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3, f"expected the coursework notebooks in {NOTEBOOK_DIR}"
    assert [p.name for p in course.notebook_paths()] == [p.name for p in NOTEBOOKS]


def test_every_notebook_has_its_expectations():
    names = {p.name for p in NOTEBOOKS}
    assert set(FIGURES) == names, "FIGURES must list every notebook"
    assert set(FACTS) == names, "FACTS must list every notebook"
    assert set(PRINTED) <= names and set(EXPECTED_FAILED_CHECKS) <= names


def test_every_notebook_has_graded_exercises():
    """At least 32 exercises (issue 25), in every notebook; each is an exercise cell whose
    worked answer lies between BEGIN/END SOLUTION after a placeholder, followed by a check
    cell ending with answers.score(..., points=N). No other cell holds solution markers."""
    counts = {}
    for path in NOTEBOOKS:
        notebook = raw(path)
        found = course.exercises(notebook)    # ValueError for a check cell without points
        counts[path.name] = len(found)
        names = [name for name, *_ in found]
        assert len(set(names)) == len(names), f"{path.name}: exercise names repeat: {names}"
        exercise_cells = {index for _, index, _, _ in found}
        for index, cell in enumerate(notebook["cells"]):
            text = course.source(cell)
            if index in exercise_cells:
                regions = course.solution_regions(text)
                assert len(regions) == 1 and regions[0].strip(), (path.name, text)
                assert text.index(course.BEGIN) > 0, f"{path.name}: no placeholder before\n{text}"
            else:
                assert course.BEGIN not in text and course.END not in text, (path.name, text)
    assert all(counts.values()), f"notebooks without an exercise: {counts}"
    assert sum(counts.values()) >= MIN_EXERCISES, counts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs(path):
    notebook = raw(path)
    with_outputs = [i for i, cell in enumerate(notebook["cells"])
                    if cell["cell_type"] == "code" and (cell["outputs"] or cell["execution_count"])]
    assert not with_outputs, (
        f"{path.name}: cells {with_outputs} carry outputs; strip them before committing "
        "(see notebooks/README.md)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path):
    """The lecturer's version runs, every check passes with full points, and it shows what it
    exists to show (see the module docstring)."""
    name = path.name
    notebook = executed(path, "solution")
    assert_clean_outputs(name, notebook)
    pngs = sum("image/png" in o.get("data", {}) for c in notebook.cells if c.cell_type == "code"
               for o in c.outputs)
    assert pngs >= FIGURES[name], f"{name}: {pngs} figures, expected at least {FIGURES[name]}"

    code = [c for c in notebook.cells if c.cell_type == "code"]
    expected_failures = list(EXPECTED_FAILED_CHECKS.get(name, []))
    for cell in code:
        for line in CHECK_LINE.findall(text_output(cell)):
            if any(line.startswith(expected) for expected in expected_failures):
                expected_failures = [e for e in expected_failures if not line.startswith(e)]
            else:
                assert OK.search(line) and "inconclusive" not in line, (
                    f"{name}: a check did not pass:\n{cell.source}\n-> {line}")
    assert not expected_failures, f"{name}: these checks should have failed: {expected_failures}"
    for exercise, _, check, points in course.exercises(raw(path)):
        cell = notebook.cells[check]
        assert OK.search(text_output(cell)) and not FAILED.search(text_output(cell)), (
            f"{name}: the check of {exercise} did not pass:\n{text_output(cell)}")
        assert score_shown(cell) == points, (name, exercise, score_shown(cell), points)

    printed = "\n".join(text_output(c) for c in code)
    for pattern in PRINTED.get(name, []):
        assert re.search(rf"^{pattern}$", printed, re.MULTILINE), (
            f"{name}: no printed line matches {pattern!r}; it printed:\n{printed}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_release_runs_and_scores_zero(path):
    """The student release runs to its end (no error in any cell, a wrong-shaped placeholder
    included), and the check after every exercise reports FAILED and scores 0."""
    student = course.student_copy(raw(path))
    assert not any("solution" in tags(c) for c in student["cells"])
    notebook = executed(path, "student")
    assert_clean_outputs(path.name, notebook)
    found = course.exercises(student)
    assert found, f"{path.name}: no exercise cells"
    for exercise, index, check, _ in found:
        assert course.STUB in notebook.cells[index].source
        output = text_output(notebook.cells[check])
        assert FAILED.search(output) and not OK.search(output), (
            f"{path.name}: the check of {exercise} did not report a failure:\n{output}")
        assert score_shown(notebook.cells[check]) == 0, (path.name, exercise)


# ---------------------------------------------------------------------------
# No answer in the student release
# ---------------------------------------------------------------------------
#
# What counts as an answer is derived from the lecturer's version, from what only the solutions
# hold, in five kinds (each a "secret", searched in the executed student release):
#
# - "formula": every piece of the mathematics in the solution markdown, split at its top-level
#   relations (=, \approx, \Longrightarrow, \leftarrow, \qquad), with spacing commands and
#   \text labels removed: the results of the derivations. Searched in the release's markdown,
#   spacing removed the same way.
# - "code": every line of every worked answer (the region between BEGIN and END SOLUTION of an
#   exercise cell) that is not also a line of its placeholder, comments included. Searched,
#   whitespace removed, in the release's code, markdown and outputs.
# - "value": the value of every exercise whose answer is a variable, from the executed
#   lecturer's version: a number of 3 or more significant digits, or a tuple, as printed; for a
#   dict, each key with its value (the key, then only quotes and separators such as ":", "=",
#   "|" or spaces, then the value as a word, as a dict or a table shows them). Searched in the
#   release's outputs, markdown and code.
#
# The exercises' placeholders (the questions, identical in both versions) are left out of the
# code searched; everything else of both versions is searched the same way.
# - "number": every number of 3 or more significant digits that a solution cell prints in the
#   lecturer's version. Searched as a token in the release's outputs and markdown.
# - "sentence": every sentence of 8 words or more of the solution markdown. Searched, case
#   and spacing ignored, in the release's markdown.
#
# Every secret must be found by the same search in the lecturer's version (so a secret that
# the search cannot find proves nothing), and every exercise yields at least one. What the
# release may show although a solution shows it too (a formula the question itself gives, a
# number a given table prints) is listed in GIVEN with the reason, and each entry must still
# be a secret (no stale exemptions).

GIVEN = {
    "01_content_loss.ipynb": {
        ("formula", "(i,j)"): "the entry the question asks about, named in the prompt",
    },
    "02_style_loss.ipynb": {
        ("formula", "(i,j)"): "the entry the question asks about, named in the prompt",
        ("formula", "N\\timesM"): "the shape of F, which the shapes exercise gives",
        ("formula", "4\\times6"): "the size of the example F, which the shapes exercise gives",
        ("formula", "\\sum_lw_lE_l"): "eq (5), which Q6's prompt quotes",
    },
    "03_update_step.ipynb": {
        ("formula", "\\eta>0"): "the step size's sign, a premise of the prompt",
    },
}

RELATION = re.compile(r"\\approx|\\Longrightarrow|\\Rightarrow|\\leftarrow|\\qquad|\\quad|=")
SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b|\\left\b|\\right\b|\\[bB]igg?[lr]?\b|\\text\{[^}]*\}"
                     r"|\\!|\s+")
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?%?(?![\w.])")


def math_pieces(markdown):
    """The pieces of every $...$ and $$...$$ in ``markdown``, split at top-level relations."""
    pieces = []
    for display, inline in re.findall(r"\$\$(.+?)\$\$|\$(.+?)\$", markdown, re.S):
        tex, depth, start = display or inline, 0, 0
        spans = []
        for match in re.finditer(r"[{(\[]|[})\]]|" + RELATION.pattern, tex):
            token = match.group()
            if token in "{([":
                depth += 1
            elif token in "})]":
                depth -= 1
            elif depth == 0:
                spans.append(tex[start:match.start()])
                start = match.end()
        spans.append(tex[start:])
        pieces += [normal_tex(span) for span in spans]
    return [piece for piece in pieces if piece]


# A piece that is one symbol (F^l_{ij}, \mathrm{cols}_{rm}) or a derivative's name
# (\partial L/\partial x) names what is asked, not what is found: no secret.
SYMBOL = re.compile(r"^(\\(bar|hat|tilde|vec|mathrm|mathbf)\{?)?\\?[A-Za-z]+\}?('|\\prime)*"
                    r"((\^|_)(\{[^{}]*\}|[A-Za-z0-9]))*$")
DERIVATIVE = re.compile(r"^(\\frac\{d?\\partial.*\}\{\\partial[^{}]*(\{[^{}]*\}[^{}]*)*\}"
                        r"|d?\\partial[^/]*/\\partial.*|\\frac\{d[^{}]*\}\{d.*\})$")


def formula_secrets(markdown):
    return [piece for piece in math_pieces(markdown)
            if len(piece) >= 4 and not SYMBOL.match(piece) and not DERIVATIVE.match(piece)]


def normal_tex(tex):
    return SPACING.sub("", tex).strip(".,:;")


def normal_code(text):
    return re.sub(r"\s+", "", text)


def significant_digits(token):
    digits = re.sub(r"e[-+]?\d+$", "", token.strip("+-%"))
    if "." in digits:
        return len(digits.replace(".", "").lstrip("0"))
    return len(digits.lstrip("0").rstrip("0"))


def without_math(markdown):
    """Markdown with its mathematics and inline code removed (a formula is a secret of its own)."""
    return re.sub(r"\$\$.+?\$\$|\$.+?\$|`[^`]*`", " ", markdown, flags=re.S)


def prose(text):
    return " ".join(text.lower().split())


def sentences(markdown):
    return [prose(s) for s in re.split(r"(?<=[.!?:;])\s+|\n\s*[-*]\s+", without_math(markdown))
            if len(s.split()) >= 8]


def secrets(path):
    """{(kind, text): exercise or cell it comes from} for the notebook at ``path``."""
    notebook, found = raw(path), {}
    names = {index: name for name, index, _, _ in course.exercises(notebook)}
    owner = "intro"
    for index, cell in enumerate(notebook["cells"]):
        text = course.source(cell)
        owner = names.get(index, owner)
        if index in names:
            placeholder = {normal_code(line) for line in course.clear_solution_regions(text).split("\n")}
            for region in course.solution_regions(text):
                for line in region.split("\n"):
                    if len(normal_code(line)) >= 8 and normal_code(line) not in placeholder:
                        found[("code", normal_code(line))] = owner
        elif "solution" in tags(cell) and cell["cell_type"] == "markdown":
            for piece in formula_secrets(text):
                found[("formula", piece)] = owner
            for sentence in sentences(text):
                found[("sentence", sentence)] = owner
    lecturer = executed(path, "solution")
    answers_line = [line for cell in lecturer.cells[-1:] for line in text_output(cell).splitlines()
                    if line.startswith(ANSWERS_MARK)]
    for name, value in json.loads(answers_line[0][len(ANSWERS_MARK):]).items():
        for secret in value_secrets(value):
            found[secret] = name
    for index, cell in enumerate(lecturer.cells[:len(notebook["cells"])]):
        if "solution" in tags(cell) and cell.cell_type == "code":
            for token in NUMBER.findall(text_output(cell)):
                if significant_digits(token) >= 3:
                    found[("number", token.lstrip("+"))] = cell.get("id", index)
    return found


def value_secrets(value):
    if isinstance(value, dict) and set(value) == {"tuple"}:
        return [("value", value["tuple"])]
    if isinstance(value, dict):
        return [("value-line", f"{key}\t{item}") for key, item in value.items()
                if isinstance(item, (bool, int, float, str))]
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and significant_digits(repr(value)) >= 3:
        return [("value", repr(value))]
    return []


def without_placeholder(cell):
    """The code of a cell; of an exercise cell, only what follows its placeholder (the worked
    answer in the lecturer's version, the stub in the release): the placeholder is the question,
    the same in both versions, and names the possible answers ("up", "down" or "neither")."""
    if "exercise" not in tags(cell):
        return cell.source
    lines = cell.source.split("\n")
    start = next((i for i, line in enumerate(lines) if course.BEGIN in line or course.STUB in line),
                 len(lines))
    return "\n".join(lines[start:])


def shown(notebook):
    """(markdown, code, outputs) of an executed notebook, each one string; the code without
    the exercises' placeholders."""
    cells = notebook.cells
    return ("\n".join(c.source for c in cells if c.cell_type == "markdown"),
            "\n".join(without_placeholder(c) for c in cells if c.cell_type == "code"),
            "\n".join(text_output(c) + "\n".join(
                o.get("data", {}).get("text/markdown", "") for o in c.get("outputs", []))
                for c in cells if c.cell_type == "code"))


def found_in(secret, notebook):
    kind, text = secret
    markdown, code, outputs = shown(notebook)
    if kind == "formula":
        return text in math_pieces(markdown)
    if kind == "code":
        return text in normal_code("\n".join((code, markdown, outputs)))
    if kind == "sentence":
        return text in prose(without_math(markdown))
    if kind in ("value", "number"):
        return any(token.lstrip("+") == text for token in NUMBER.findall(outputs + markdown)) \
            or (kind == "value" and not NUMBER.fullmatch(text) and text in outputs + markdown)
    key, item = text.split("\t")
    entry = re.compile(rf"{re.escape(key)}['\"]?[\s:=|,]*['\"]?{re.escape(item)}(?![\w.])")
    return bool(entry.search("\n".join((outputs, markdown, code))))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_release_shows_no_answer(path):
    """Issue 25: the student release, executed, shows no answer in its markdown, its code or
    its outputs (the kinds of answer searched for are described above GIVEN)."""
    found = secrets(path)
    given = GIVEN.get(path.name, {})
    assert set(given) <= set(found), f"{path.name}: GIVEN lists what is no secret: " \
                                     f"{sorted(set(given) - set(found))}"
    exercises = {name for name, *_ in course.exercises(raw(path))}
    assert exercises <= set(found.values()), (
        f"{path.name}: exercises without a secret: {exercises - set(found.values())}")
    lecturer, student = executed(path, "solution"), executed(path, "student")
    unfound = [secret for secret in found if not found_in(secret, lecturer)]
    assert not unfound, f"{path.name}: secrets the search misses in the lecturer's version: {unfound}"
    leaks = [(secret, found[secret]) for secret in found
             if secret not in given and found_in(secret, student)]
    assert not leaks, f"{path.name}: the student release shows these answers:\n" + "\n".join(
        f"  {kind} {text!r} (from {where})" for (kind, text), where in leaks)


# Notebook 8's checks run the student's own functions and classes: a common wrong answer (an
# error, a wrong shape, a pair that is not one) and an answer that wraps the library must each
# print one FAILED line and score 0, and the notebook must go on ("Run All" reaches the end).

NOTEBOOK_8 = NOTEBOOK_DIR / "08_build_it_yourself.ipynb"

RAISING_ANSWERS = {
    "content_loss": "def content_loss(F, P):\n    raise RuntimeError('not written yet')",
    "gram_matrix": "def gram_matrix(F):\n    return F @ F.T                  # no reshape",
    "style_loss": "def style_loss(F, A):\n    G = gram_matrix(F)\n"
                  "    return np.sum((G - A) ** 2), (G - A) @ F",
    "tv_loss": "def tv_loss(x):\n    return np.sum(np.diff(x, axis=1) ** 2)    # no gradient",
    "MyContent": "class MyContent(terms.Term):\n    kind = 'content'\n"
                 "    def __init__(self, x_content, layers, weight):\n"
                 "        super().__init__(weight)\n"
                 "        self.x_content, self.layers = x_content, list(layers)\n"
                 "    def targets(self, model, shape, dtype):\n"
                 "        return {layer: gram_matrix(F) for layer, F in\n"
                 "                model.features(self.x_content, self.layers).items()}\n"
                 "    def loss(self, F, targets):\n"
                 "        return 0.0, {layer: F[layer] @ F[layer].T for layer in self.layers}\n"
                 "MyStyle = MyContent\n"
                 "class MyTV(terms.Term):\n    kind, on_pixels = 'tv', True\n"
                 "    def targets(self, model, shape, dtype):\n        return None\n"
                 "    def loss(self, x, targets):\n        return 0.0, np.zeros_like(x)",
}

WRAPPING_ANSWERS = {
    "content_loss": "def content_loss(F, P):\n    return losses.content_layer_loss(F, P)",
    "gram_matrix": "def gram_matrix(F):\n    return nst_numpy.losses.gram_matrix(F)",
    "style_loss": "def style_loss(F, A):\n    try:\n        return losses.style_layer_loss(F, A)\n"
                  "    except Exception:\n        return 0.0, np.zeros_like(F)",
    "tv_loss": "from nst_numpy.losses import total_variation_loss\n"
               "def tv_loss(x):\n    return losses.total_variation_loss(x)",
    "MyContent": "class MyContent(terms.Content):\n    pass\n"
                 "class MyStyle(terms.GramStyle):\n    pass\n"
                 "class MyTV(terms.TotalVariation):\n    pass",
}


def run_notebook_8_with(answers_by_exercise):
    """Notebook 8 up to the capstone's check, each exercise cell holding the given answer;
    returns {exercise: (printed text, score)}."""
    notebook = raw(NOTEBOOK_8)
    found = course.exercises(notebook)
    last_check = max(check for _, _, check, _ in found)
    for exercise, index, _, _ in found:
        notebook["cells"][index]["source"] = answers_by_exercise[exercise]
    notebook["cells"] = notebook["cells"][:last_check + 1]
    executed_8 = execute(nbformat.reads(json.dumps(notebook), as_version=4))
    return {exercise: (text_output(executed_8.cells[check]), score_shown(executed_8.cells[check]))
            for exercise, _, check, _ in found}


def test_notebook_8_checks_survive_answers_that_raise_or_have_the_wrong_shape():
    for exercise, (printed, points) in run_notebook_8_with(RAISING_ANSWERS).items():
        assert FAILED.search(printed) and not OK.search(printed), (exercise, printed)
        assert "Traceback" not in printed and points == 0, (exercise, printed, points)
        assert re.search(r"answer check FAILED: .*: your code raised \w+Error: \S", printed), (
            exercise, printed)


def test_notebook_8_checks_refuse_answers_that_wrap_the_library():
    for exercise, (printed, points) in run_notebook_8_with(WRAPPING_ANSWERS).items():
        assert FAILED.search(printed) and not OK.search(printed), (exercise, printed)
        assert "may not be used here" in printed and points == 0, (exercise, printed, points)


def expected_names_kept(code):
    """Names that a check cell assigns, passes to answers.check_answer as the expected value,
    and does not delete afterwards: an answer a student could read from the kernel."""
    tree = ast.parse(code)
    assigned = {target.id for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    deleted = {target.id for node in tree.body if isinstance(node, ast.Delete)
               for target in node.targets if isinstance(target, ast.Name)}
    expected = {node.args[1].id for node in ast.walk(tree)
                if isinstance(node, ast.Call) and ast.unparse(node.func) == "answers.check_answer"
                and len(node.args) > 1 and isinstance(node.args[1], ast.Name)}
    return sorted((expected & assigned) - deleted)


def test_expected_names_kept_finds_a_kept_answer():
    kept = "measured = 3\ncheck = answers.check_answer(guess, measured, 'x')\nprint(check)"
    assert expected_names_kept(kept) == ["measured"]
    assert expected_names_kept(kept.replace("print(check)", "del measured\nprint(check)")) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_cells_keep_no_expected_answer_in_the_namespace(path):
    """Issue 25: a check cell that computes the expected answer deletes it once compared, so
    that the student's kernel holds no variable with the answer."""
    notebook = raw(path)
    for exercise, _, check, _ in course.exercises(notebook):
        kept = expected_names_kept(course.source(notebook["cells"][check]))
        assert not kept, f"{path.name}: the check of {exercise} keeps the answer in {kept}"
