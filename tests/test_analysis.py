"""nst_numpy.analysis: the measures of notebook 6 (quiz question 12), each checked against a
case whose answer is known in advance: a pure sinusoid, Parseval's theorem, a result whose
Gram statistics are the style's or the content's, a unit's gradient footprint."""

import numpy as np
import pytest

from nst_numpy import analysis, losses, vgg


def sinusoid(shape, fy, fx, amplitude=1.0, phase=0.3):
    """amplitude * cos(2 pi (fy y + fx x) + phase) on an (H, W) grid; f in cycles per pixel."""
    y, x = np.mgrid[:shape[0], :shape[1]]
    return amplitude * np.cos(2 * np.pi * (fy * y + fx * x) + phase)


# --- luminance ---------------------------------------------------------------------------

def test_luminance_of_grey_is_the_grey_level_and_of_red_is_its_weight():
    grey = np.full((4, 5, 3), 100, np.uint8)
    assert np.allclose(analysis.luminance(grey), 100)
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 255
    assert np.allclose(analysis.luminance(red), 0.299 * 255)


def test_luminance_difference_needs_equal_sizes():
    a = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="resize"):
        analysis.luminance_difference(a, np.zeros((4, 5, 3), np.uint8))
    b = np.full((4, 4, 3), 10, np.uint8)
    assert np.allclose(analysis.luminance_difference(b, a), 10)


# --- the radial power spectrum ----------------------------------------------------------

@pytest.mark.parametrize("shape", [(64, 64), (48, 80), (81, 40)])
def test_parseval_the_rings_hold_the_images_energy(shape):
    x = np.random.default_rng(0).normal(size=shape)
    spectrum = analysis.radial_power_spectrum(x)
    assert np.isclose(spectrum.energy.sum(), np.sum(x ** 2), rtol=1e-10)
    assert spectrum.count.sum() == x.size and np.all(spectrum.count > 0)
    assert np.all(np.diff(spectrum.frequency) > 0) and spectrum.frequency[0] == 0


@pytest.mark.parametrize("shape, fy, fx", [
    ((64, 64), 0, 8 / 64),          # along x, period 8 px
    ((64, 64), 5 / 64, 0),          # along y
    ((96, 64), 12 / 96, 9 / 64),    # diagonal, on a non-square grid
    ((50, 120), 0, 30 / 120),       # frequency 1/4 along the longer side
])
def test_a_pure_sinusoid_peaks_at_its_frequency(shape, fy, fx):
    x = sinusoid(shape, fy, fx, amplitude=3.0)
    spectrum = analysis.radial_power_spectrum(x)
    f0 = np.hypot(fy, fx)
    width = 1 / max(shape)
    peak = np.argmax(spectrum.energy / spectrum.count)
    assert abs(spectrum.frequency[peak] - f0) <= width / 2 + 1e-12
    # all its energy (amplitude^2 / 2 per pixel) sits in that one ring
    assert np.isclose(spectrum.energy[peak], 9.0 / 2 * x.size, rtol=1e-9)


def test_frequencies_are_in_cycles_per_pixel_whatever_the_size():
    """A period of 8 px is 0.125 cycles per pixel in a 64 px image and in a 128 px one."""
    for side in (64, 128):
        spectrum = analysis.radial_power_spectrum(sinusoid((side, side), 0, 1 / 8))
        assert np.isclose(spectrum.frequency[np.argmax(spectrum.energy)], 0.125)


def test_a_constant_image_has_all_its_energy_at_zero_frequency():
    spectrum = analysis.radial_power_spectrum(np.full((16, 20), 2.0))
    assert np.isclose(spectrum.energy[0], 4.0 * 16 * 20)
    assert np.allclose(spectrum.energy[1:], 0)
    assert np.isnan(analysis.low_frequency_share(spectrum, 0.1))


def test_radial_power_spectrum_refuses_colour_images_and_nan():
    with pytest.raises(ValueError, match="one channel"):
        analysis.radial_power_spectrum(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="NaN"):
        analysis.radial_power_spectrum(np.full((8, 8), np.nan))


# --- the low-frequency share ------------------------------------------------------------

def test_low_frequency_share_splits_two_sinusoids_by_their_energy():
    shape = (64, 64)
    low, high = sinusoid(shape, 0, 2 / 64, amplitude=2.0), sinusoid(shape, 10 / 64, 0, 1.0)
    cutoff = 1 / 16   # 4 / 64: the low one (period 32 px) below, the high one (6.4 px) above
    offset = 50.0     # the mean is no structure: it counts for neither side
    share = analysis.low_frequency_share(
        analysis.radial_power_spectrum(low + high + offset), cutoff)
    assert np.isclose(share, 4 / (4 + 1))
    assert np.isclose(analysis.low_frequency_share(
        analysis.radial_power_spectrum(low + offset), cutoff), 1.0)
    assert np.isclose(analysis.low_frequency_share(
        analysis.radial_power_spectrum(high + offset), cutoff), 0.0)


def test_low_frequency_share_is_a_share_not_an_amount():
    """Scaling the change leaves the share alone: it says where the energy is, not how much."""
    x = np.random.default_rng(7).normal(size=(32, 48))
    shares = [analysis.low_frequency_share(analysis.radial_power_spectrum(k * x), 1 / 8)
              for k in (1.0, 7.0)]
    assert 0 < shares[0] < 1 and np.isclose(shares[0], shares[1])


def test_low_frequency_share_needs_a_positive_cutoff():
    spectrum = analysis.radial_power_spectrum(np.random.default_rng(1).normal(size=(8, 8)))
    with pytest.raises(ValueError, match="positive"):
        analysis.low_frequency_share(spectrum, 0)


def test_smoothing_moves_energy_to_low_frequencies():
    """Blurring noise (a box filter, by FFT) raises its low-frequency share."""
    noise = np.random.default_rng(2).normal(size=(64, 64))
    box = np.zeros_like(noise)
    box[:5, :5] = 1 / 25
    blurred = np.real(np.fft.ifft2(np.fft.fft2(noise) * np.fft.fft2(box)))
    share = [analysis.low_frequency_share(analysis.radial_power_spectrum(x), 1 / 16)
             for x in (noise, blurred)]
    assert share[1] > 2 * share[0], share


# --- Gram statistics: the share of the gap closed ---------------------------------------

def test_gram_per_position_is_size_free():
    F = np.random.default_rng(3).normal(size=(5, 7, 9))
    twice = np.concatenate([F, F[:, :, ::-1]], axis=2)   # the same positions, twice
    assert np.allclose(analysis.gram_per_position(F), losses.gram_matrix(F) / 63)
    assert np.allclose(analysis.gram_per_position(twice), analysis.gram_per_position(F))
    assert np.allclose(analysis.gram_per_position(F.reshape(5, -1)),
                       analysis.gram_per_position(F))


def test_style_distance_is_eq4_with_the_target_rescaled_to_the_output():
    rng = np.random.default_rng(4)
    F, F_style = rng.normal(size=(6, 40)), rng.normal(size=(6, 90))
    A = losses.gram_matrix(F_style) * (40 / 90)   # as transfer.style_targets rescales it
    assert np.isclose(analysis.style_distance(F, F_style), losses.style_layer_loss(F, A)[0])


@pytest.fixture
def three_images():
    """Activations of a content, a style (another size) and a 'result' at one layer."""
    rng = np.random.default_rng(5)
    content = np.abs(rng.normal(size=(8, 6, 7)))
    style = np.abs(rng.normal(1.0, 2.0, size=(8, 9, 11)))
    return content, style


def test_gap_closed_is_one_at_the_styles_gram_and_zero_at_the_contents(three_images):
    content, style = three_images
    tiled = np.concatenate([style, style[:, ::-1]], axis=1)   # another size, same statistics
    assert np.isclose(analysis.gap_closed(tiled, content, style), 1.0)
    assert np.isclose(analysis.gap_closed(content, content, style), 0.0)
    # the style is the stronger one here: a weaker copy of the content is farther from it
    assert analysis.gap_closed(0.5 * content, content, style) < 0


def test_gap_closed_halfway_in_gram_is_three_quarters(three_images):
    """A result whose per-position Gram is the mean of the content's and the style's is half
    as far from the style, a quarter of the squared distance: 1 - 1/4 closed."""
    content, style = (a.reshape(a.shape[0], -1) for a in three_images)
    M_c, M_s = content.shape[1], style.shape[1]
    # [a F_c, b F_s] has the per-position Gram (a^2 G_c + b^2 G_s) / (M_c + M_s)
    a, b = np.sqrt((M_c + M_s) / (2 * M_c)), np.sqrt((M_c + M_s) / (2 * M_s))
    halfway = np.concatenate([a * content, b * style], axis=1)
    assert np.isclose(analysis.gap_closed(halfway, content, style), 0.75)


def test_gap_closed_refuses_mismatched_layers_and_no_gap(three_images):
    content, style = three_images
    with pytest.raises(ValueError, match="same layer"):
        analysis.gap_closed(content, content, style[:4])
    with pytest.raises(ValueError, match="no gap"):
        analysis.gap_closed(style, content, content)


# --- receptive fields -------------------------------------------------------------------

def test_receptive_fields_of_vgg19():
    fields = analysis.receptive_fields(vgg.layer_names("vgg19"))
    assert [fields[f"relu{b}_1"] for b in range(1, 6)] == [3, 10, 24, 68, 156]
    assert fields["relu4_3"] == 100 and fields["relu5_3"] == 220
    assert fields["conv1_1"] == fields["relu1_1"]


@pytest.mark.parametrize("layer, side", [("relu2_1", 40), ("relu3_1", 64)])
def test_receptive_field_is_a_units_gradient_footprint(layer, side):
    """With positive weights and average pooling every ReLU is active, so the pixels one
    central unit depends on are exactly those where its gradient is non-zero."""
    rng = np.random.default_rng(6)
    weights = {name: (np.abs(k), np.abs(b) + 0.1)
               for name, (k, b) in vgg.random_weights("vgg19", 0).items()}
    model = vgg.VGG(weights, pooling="avg")
    x = rng.uniform(0.5, 1.0, size=(3, side, side))
    features, tape = model.forward(x, [layer])
    F = features[layer]
    assert np.all(F > 0)
    one_unit = np.zeros_like(F)
    one_unit[0, F.shape[1] // 2, F.shape[2] // 2] = 1.0
    rows, cols = np.nonzero(np.any(model.backward({layer: one_unit}, tape) != 0, axis=0))
    footprint = (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    assert 0 < rows.min() and rows.max() < side - 1   # not cut off by the border
    expected = analysis.receptive_fields(model.layer_names)[layer]
    assert footprint == (expected, expected)
