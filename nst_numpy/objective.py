"""The objective of style transfer: pixels ``x`` -> ``(L, dL/dx)``, equation (7).

    L(x) = sum_t w_t L_t(x),    e.g.  alpha L_content + beta L_style + lambda L_tv

for the loss terms ``t`` of :mod:`nst_numpy.terms`. One evaluation is one forward pass to
every layer a term reads, each term's value and ``dL_t/dF^l`` at its layers, and one backward
pass that injects all of them at once (:meth:`nst_numpy.vgg.VGG.backward`); a term of the
pixels (total variation) adds its gradient to ``dL/dx`` directly.
"""

from dataclasses import dataclass, field
import math

import numpy as np

from .terms import Setting

KINDS = ("content", "style", "tv")


def check_some_weight(terms, weights):
    """One line when no term can contribute: every weight zero (None, a term's default, is
    positive), or every layer weight of the rest."""
    if not any((w is None or w > 0) and term.active() for term, w in zip(terms, weights)):
        raise ValueError("every loss weight is zero (each term's weight, or all its layer "
                         "weights): nothing to optimise; give a term a positive weight")


class NonFiniteLoss(FloatingPointError):
    """The loss or its gradient became NaN or infinite."""


@dataclass
class Losses:
    """One evaluation's terms by kind, each already weighted: total = content + style + tv."""
    total: float
    content: float = 0.0
    style: float = 0.0
    tv: float = 0.0
    terms: list = field(default_factory=list, repr=False)   # each term's, in order


class Objective:
    """x (3, H, W) -> (L, dL/dx), eq (7), with every term's targets computed once, here.

    Parameters
    ----------
    model : VGG or FastVGG
        The network (any model with ``forward(x, layers) -> (F, tape)``,
        ``backward(grads, tape)``, ``features`` and ``resolve``).
    terms : sequence of :class:`nst_numpy.terms.Term`
        The loss terms; their weights are eq (7)'s.
    shape : (H, W)
        The size of the pictures ``x`` that the objective takes.
    dtype : np.float32 or np.float64
        Of the targets (and of ``x``: float32 for speed, float64 for gradient checks).
    full_shape : (H, W), optional
        The output's size when this objective serves a coarser level of a pyramid (the
        terms' default weights are set at full size); default ``shape``.
    scale : float
        What the optimiser sees is ``scale * (L, dL/dx)``, while ``last`` keeps ``L``
        itself: a loss whose gradient is tiny per pixel (as feature inversion's) would make
        L-BFGS-B's first step, at most ``x - dL/dx``, move nothing (docs/annotated/inversion).

    Attributes
    ----------
    last : Losses
        The most recent evaluation's terms.
    evaluations : int
        The calls so far.
    weights, targets : list
        Each term's weight in eq (7) and its targets, in the terms' order.

    Notes
    -----
    A NaN or infinite loss or gradient raises :class:`NonFiniteLoss` (and only that: the
    arithmetic warnings on the way there are silenced; the check says it once).
    """

    def __init__(self, model, terms, shape, dtype=np.float32, full_shape=None, scale=1.0):
        self.model, self.terms = model, tuple(terms)
        self.shape, self.dtype, self.scale = tuple(shape), np.dtype(dtype).type, scale
        setting = Setting(model, self.shape, tuple(full_shape or shape), self.terms)
        for term in self.terms:
            term.check_model(model)
        self.weights = [term.weight_at(setting) for term in self.terms]
        check_some_weight(self.terms, self.weights)
        # Each term's targets, once (quiz Q11): P^l, A^l, the style patches, ...
        self.targets = [term.targets(model, self.shape, self.dtype) for term in self.terms]
        self.layers = list(dict.fromkeys(l for term in self.terms for l in term.layers))
        self.last, self.evaluations = None, 0

    @property
    def descends(self):
        """Whether the optimiser gets the loss's gradient (not so with normalised gradients,
        whose loss need not fall)."""
        return all(term.gradient for term in self.terms)

    def __call__(self, x):
        self.evaluations += 1
        with np.errstate(all="ignore"):
            F, tape = self.model.forward(x, self.layers) if self.layers else ({}, None)
            values, grads, pixel_grad = [], {}, np.zeros_like(x)
            for term, targets, w in zip(self.terms, self.targets, self.weights):
                value, dL = term.loss(x if term.on_pixels else F, targets)
                # (7)  L = sum_t w_t L_t
                values.append(w * float(value))
                if term.on_pixels:
                    pixel_grad += x.dtype.type(w) * dL
                    continue
                for layer, g in dL.items():
                    # Q6: dL/dF^l = sum_t w_t dL_t/dF^l, a layer in several terms gets the sum
                    g = g * g.dtype.type(w)
                    grads[layer] = grads[layer] + g if layer in grads else g
            del F   # the backward pass needs only the tape: free what it does not hold
            dx = self.model.backward(grads, tape) + pixel_grad if grads else pixel_grad
        self.last = self._losses(values)
        self._check_finite(dx)
        loss = self.last.total
        return loss * self.scale, (dx * dx.dtype.type(self.scale) if self.scale != 1 else dx)

    def _losses(self, values):
        by_kind = {kind: 0.0 for kind in KINDS}
        for term, value in zip(self.terms, values):
            by_kind[term.kind] += value
        return Losses(sum(values), **by_kind, terms=values)

    def _check_finite(self, dx):
        terms = ", ".join(f"{kind} {getattr(self.last, kind):.4g}" for kind in KINDS)
        if not math.isfinite(self.last.total):
            raise NonFiniteLoss(f"the loss became {self.last.total} ({terms})")
        if not np.all(np.isfinite(dx)):
            raise NonFiniteLoss(f"the gradient became NaN or infinite at a loss of "
                                f"{self.last.total:.4g} ({terms})")
