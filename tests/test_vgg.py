"""The VGG stack: structure, names, forward against the layers, and dL/dx against finite
differences on a small image through all five blocks.

float64, 3x16x16 image, small random (He-initialised) weights, sampled pixels, and
check_gradient's own step and tolerance (nst_numpy/gradcheck.py: the step follows the
dtype, the round-off floor follows the loss's size). A kink (ReLU at 0 or a max-pool tie)
within h of a sampled pixel's perturbation would spoil that pixel; the seeds are fixed, so a
failure is reproducible, not flaky.
"""

import numpy as np
import pytest

from nst_numpy import layers as L
from nst_numpy import losses, vgg
from nst_numpy.gradcheck import check_gradient
from nst_numpy.vgg import random_weights

STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
CONTENT_LAYERS = ["relu2_2", "relu4_2"]


def test_layer_names_and_counts():
    names19 = vgg.layer_names("vgg19")
    assert names19[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert sum(n.startswith("conv") for n in names19) == 16
    assert sum(n.startswith("conv") for n in vgg.layer_names("vgg16")) == 13
    assert names19[-1] == "pool5" and "relu5_4" in names19 and "relu5_4" not in vgg.layer_names("vgg16")


def test_keras_aliases_resolve_to_post_relu_outputs(random_vgg):
    model = random_vgg()
    x = np.random.default_rng(0).normal(size=(3, 16, 16))
    out = model.features(x, ["block1_conv1", "relu1_1", "block3_pool", "pool3"])
    np.testing.assert_array_equal(out["block1_conv1"], out["relu1_1"])
    np.testing.assert_array_equal(out["block3_pool"], out["pool3"])
    assert out["relu1_1"].min() >= 0


def test_forward_matches_layer_by_layer_composition(random_vgg):
    model = random_vgg(arch="vgg16", pooling="max")
    x = np.random.default_rng(1).normal(size=(3, 12, 10))
    a = x
    for block, n_convs in enumerate(vgg.ARCHITECTURES["vgg16"][:2], start=1):
        for i in range(1, n_convs + 1):
            a = L.relu_forward(L.conv2d_forward(a, *model.params[f"conv{block}_{i}"])[0])[0]
        a = L.max_pool_forward(a)[0]
    np.testing.assert_allclose(model.features(x, ["pool2"])["pool2"], a, rtol=1e-13)


def test_forward_stops_at_deepest_requested_layer(random_vgg):
    model = random_vgg()
    _, tape = model.forward(np.zeros((3, 8, 8)), ["relu2_1"])
    with pytest.raises(ValueError, match="relu3_1.*relu2_1"):
        model.backward({"relu3_1": np.zeros((256, 2, 2))}, tape)


def test_float32_stays_float32(random_vgg):
    model = random_vgg()
    x = np.random.default_rng(2).normal(size=(3, 16, 16)).astype(np.float32)
    out, tape = model.forward(x, ["relu3_1"])
    assert out["relu3_1"].dtype == np.float32
    assert model.backward({"relu3_1": np.ones_like(out["relu3_1"])}, tape).dtype == np.float32


def test_bad_inputs_give_clear_errors(random_vgg):
    model = random_vgg()
    with pytest.raises(ValueError, match=r"\(4, 8, 8\).*\(64, 3, 3, 3\)"):
        model.forward(np.zeros((4, 8, 8)), ["relu1_1"])
    with pytest.raises(ValueError, match="no layer 'relu6_1'"):
        model.forward(np.zeros((3, 8, 8)), ["relu6_1"])
    with pytest.raises(ValueError, match="too small to reach pool4"):
        model.forward(np.zeros((3, 8, 8)), ["relu5_1"])
    _, tape = model.forward(np.zeros((3, 8, 8)), ["relu1_1"])
    with pytest.raises(ValueError, match=r"\(64, 4, 4\).*\(64, 8, 8\)"):
        model.backward({"relu1_1": np.zeros((64, 4, 4))}, tape)
    with pytest.raises(ValueError, match="pass the tape that forward returned"):
        model.backward({"relu1_1": np.zeros((64, 8, 8))}, None)


def test_weights_are_checked_against_the_architecture():
    weights = random_weights("vgg19")
    assert vgg.VGG.vgg16(weights).arch == "vgg16"   # VGG19's weights hold every VGG16 layer
    with pytest.raises(ValueError, match="conv5_4"):
        vgg.VGG.vgg19({k: v for k, v in weights.items() if k != "conv5_4"})
    kernel, bias = weights["conv2_1"]
    bad = dict(weights, conv2_1=(kernel[:, :32], bias))
    with pytest.raises(ValueError, match=r"conv2_1.*\(128, 32, 3, 3\).*\(128, 64, 3, 3\)"):
        vgg.VGG.vgg19(bad)


def test_keras_named_weights_are_accepted():
    weights = random_weights("vgg16")
    keras_named = {f"block{n[4]}_conv{n[6]}": v for n, v in weights.items()}
    model = vgg.VGG.vgg16(keras_named)
    np.testing.assert_array_equal(model.params["conv3_3"][0], weights["conv3_3"][0])


def _targets(model, x, rng):
    """Content targets P^l from an image near ``x``, style Grams A^l from a random one.

    The difference quotient's round-off is about eps*|L|/h: a content image far from ``x``
    makes |L| thousands of times larger than its gradient entries and drowns them. A
    nearby content image (as in a real run, started from the content) keeps them comparable.
    """
    P = model.features(x + 0.1 * rng.normal(size=x.shape), CONTENT_LAYERS)
    style = model.features(rng.normal(size=x.shape), STYLE_LAYERS)
    return P, {layer: losses.gram_matrix(F) for layer, F in style.items()}


def _objective(model, P, A, alpha, beta):
    def loss_and_grad(x):
        F, tape = model.forward(x, CONTENT_LAYERS + STYLE_LAYERS)
        loss, grads = losses.total_loss(F, P, A, alpha=alpha, beta=beta)
        return loss, model.backward(grads, tape)
    return loss_and_grad


@pytest.mark.parametrize("pooling", ["avg", "max"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.0, 1e4), (1.0, 1e4)],
                         ids=["content", "style", "total"])
def test_image_gradient_matches_finite_differences_through_all_five_blocks(random_vgg, pooling, alpha, beta):
    model = random_vgg(pooling=pooling)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 16, 16))
    P, A = _targets(model, x, rng)
    objective = _objective(model, P, A, alpha, beta)
    _, dx = objective(x)
    result = check_gradient(lambda v: objective(v)[0], x, dx, num_samples=40, seed=4)
    assert result, str(result)


def test_vgg16_image_gradient_matches_finite_differences(random_vgg):
    model = random_vgg(arch="vgg16")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 16, 16))
    P, A = _targets(model, x, rng)
    objective = _objective(model, P, A, 1.0, 1e4)
    result = check_gradient(lambda v: objective(v)[0], x, objective(x)[1], num_samples=20)
    assert result, str(result)


def test_gradients_injected_at_the_same_layer_add(random_vgg):
    model = random_vgg()
    x = np.random.default_rng(6).normal(size=(3, 8, 8))
    F, tape = model.forward(x, ["relu2_1"])
    g = F["relu2_1"]
    both = model.backward({"relu2_1": g, "block2_conv1": g}, tape)
    np.testing.assert_allclose(both, 2 * model.backward({"relu2_1": g}, tape), rtol=1e-13)


def test_one_model_shared_by_threads_gives_each_its_own_result(random_vgg):
    """The model keeps nothing between the passes (each forward returns its tape): two
    threads that both run forward before either runs backward (as two objectives computing
    their losses in between would) each get their own image's gradient."""
    import threading
    model = random_vgg()
    rng = np.random.default_rng(7)
    images = [rng.normal(size=(3, 16, 16)) for _ in range(2)]

    def gradient(x):
        out, tape = model.forward(x, ["relu3_1"])
        return model.backward(out, tape)

    expected = [gradient(x) for x in images]
    results, both_forwards_done = [None, None], threading.Barrier(2)

    def worker(i):
        out, tape = model.forward(images[i], ["relu3_1"])
        both_forwards_done.wait()
        results[i] = model.backward(out, tape)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        np.testing.assert_array_equal(results[i], expected[i])


def test_backward_runs_in_the_forward_dtype(random_vgg):
    model = random_vgg()
    x = np.random.default_rng(8).normal(size=(3, 8, 8)).astype(np.float32)
    F, tape = model.forward(x, ["relu2_1"])
    out = F["relu2_1"]
    dx = model.backward({"relu2_1": np.ones(out.shape)}, tape)          # float64 gradient
    assert dx.dtype == np.float32
    np.testing.assert_array_equal(dx, model.backward({"relu2_1": np.ones_like(out)}, tape))
