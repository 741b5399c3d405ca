"""A film of the optimisation: the picture as it forms, as an animated GIF or WebP.

    stylize(photo, wave, animate="film.gif")          # written when the run ends
    film = Film(); stylize(photo, wave, animate=film)  # or kept: film.frames, film.save(path)

The film holds the starting picture, the picture every ``every`` iterations (numbered over
the whole run, every level of a pyramid included: a coarse level's pictures are enlarged to
the film's size) and the last one. Its memory is bounded: at most :data:`MAX_FRAMES` frames,
each at most ``side`` pixels on its longest side (the output's size, by default at most
:data:`SIDE`), so ``MAX_FRAMES x side^2 x 3`` bytes whatever the run's length; stylize's
memory check counts the frames planned.
"""

import math
import os

from PIL import Image

from . import image as im
from ._checks import OptionError

FILM_FORMATS = {".gif": "GIF", ".webp": "WEBP"}
FRAMES = 30            # the default spacing gives a film of about this many frames
MAX_FRAMES = 200       # the most frames a film holds
SIDE = 512             # the frames' longest side by default (no larger than the output's)
FRAME_MS = 100         # each frame is shown this long, in milliseconds ...
LAST_FRAME_MS = 2000   # ... and the last one longer, before the film starts again
WEBP_QUALITY = 80


def default_every(iterations):
    """The spacing of frames when none is given: about :data:`FRAMES` frames over the run
    (10 for 300 iterations)."""
    return max(1, math.ceil(iterations / FRAMES))


def frame_count(iterations, every):
    """Frames of a run of ``iterations``: the start, every ``every``-th, and the last."""
    return 1 + iterations // every + (1 if iterations % every else 0)


def film_shape(shape, side):
    """(H, W) of the frames for an output of ``shape``: the same, or scaled down so that the
    longest side is ``side`` (never up)."""
    H, W = shape
    if max(H, W) <= side:
        return H, W
    scale = side / max(H, W)
    return max(1, round(H * scale)), max(1, round(W * scale))


def check_film_option(name, value):
    """stylize's ``animate``: a path ending in .gif or .webp (that this Pillow can write),
    or a :class:`Film`."""
    if isinstance(value, Film):
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise OptionError(f"{{{name}}} must be a path ending in .gif or .webp, or an "
                          f"animate.Film, got {type(value).__name__}", **{name: name})
    extension = os.path.splitext(os.fspath(value))[1].lower()
    if extension not in FILM_FORMATS:
        raise OptionError(f"{{{name}}} {OptionError.literal(repr(os.fspath(value)))} is not a "
                          "film: end its name in .gif or .webp", **{name: name})
    if extension == ".webp" and not _pillow_writes_webp():
        raise OptionError(f"{{{name}}}: this Pillow was built without WebP; write a .gif",
                          **{name: name})
    return value


def _pillow_writes_webp():
    from PIL import features
    return features.check_module("webp")


class Film:
    """The frames of one run, in order: ``frames`` is a list of (step, uint8 RGB (h, w, 3)),
    step 0 the starting picture.

    Give it to ``stylize(..., animate=film)``, which plans it (:meth:`plan`) and fills it;
    then :meth:`save` writes it, or a notebook shows ``film.frames``.
    """

    def __init__(self):
        self.frames, self.every, self.shape, self.path = [], None, None, None
        self.active, self.memory = False, 0

    def plan(self, iterations, shape, every=None, side=None):
        """Prepare for a run of ``iterations`` with an output of ``shape`` (H, W): a frame
        every ``every`` iterations (default :func:`default_every`), frames at most ``side``
        px (default :data:`SIDE`). Refuses more than :data:`MAX_FRAMES` frames in one line.
        Forgets the frames of a run before; ``memory``: the bytes the frames will take."""
        self.every = default_every(iterations) if every is None else every
        count = frame_count(iterations, self.every)
        if count > MAX_FRAMES:
            least = math.ceil(iterations / (MAX_FRAMES - 2))
            raise OptionError(f"{{animate_every}} {self.every} makes {count} frames of a run of "
                              f"{iterations} iterations, more than the {MAX_FRAMES} a film holds; "
                              f"give {{animate_every}} {least} or more",
                              animate_every="animate_every")
        self.shape = film_shape(shape, SIDE if side is None else side)
        self.frames, self.active = [], True
        self.memory = count * 3 * self.shape[0] * self.shape[1]

    def add(self, step, picture):
        """Keep ``picture`` (uint8 RGB, any size) as the frame of ``step``, at the film's size."""
        self.frames.append((step, im.resize(picture, *self.shape)))

    def recording(self, x0, finish_at=None, callback=None):
        """The run's callback: ``callback`` (if any) after keeping every ``every``-th step's
        picture; the starting picture, of the preprocessed ``x0`` (3, h, w), is kept now.
        finish_at: (h, w) -> the x -> picture function of that size (default
        :func:`nst_numpy.image.deprocess`). An idle film returns ``callback`` itself."""
        if not self.active:
            return callback
        self.add(0, (finish_at(tuple(x0.shape[1:])) if finish_at else im.deprocess)(x0))

        def record(state):
            if state.step % self.every == 0:
                self.add(state.step, state.image())
            return callback(state) if callback is not None else None
        return record

    def ended(self, result):
        """After the run: its last picture kept (if not already), and a film planned with a
        path written there, unless the run failed or ran no iteration. Returns ``result``."""
        if not self.active:
            return result
        if result.iterations and self.frames[-1][0] != result.iterations:
            self.add(result.iterations, result.image)
        if self.path is not None and result.iterations and not result.failed:
            self.save(self.path)
        return result

    def save(self, path, exclusive=False):
        """Write the frames as an animated GIF or WebP (by ``path``'s extension), atomically
        (:func:`nst_numpy.image.write_atomically`): each frame shown :data:`FRAME_MS` ms, the
        last :data:`LAST_FRAME_MS` ms, looping. Returns ``path``."""
        path = os.fspath(check_film_option("path", path))
        if not self.frames:
            raise ValueError("the film has no frames: give it to stylize(..., animate=film) "
                             "and save it after the run")
        im.check_writable(path, self.shape, FILM_FORMATS)
        pictures = [Image.fromarray(frame) for _, frame in self.frames]
        fmt = FILM_FORMATS[os.path.splitext(path)[1].lower()]
        options = dict(save_all=True, append_images=pictures[1:], loop=0,
                       duration=[FRAME_MS] * (len(pictures) - 1) + [LAST_FRAME_MS])
        if fmt == "WEBP":
            options["quality"] = WEBP_QUALITY
        return im.write_atomically(path, lambda out: pictures[0].save(out, fmt, **options),
                                   exclusive)


def planned_film(config, shapes, iterations, terms, named_starts):
    """The film of a stylize call, planned and checked before the run: ``config.animate``
    (a :class:`Film`, or a path, checked as an output that is never one of the run's
    inputs), or an idle Film when there is none.

    shapes: the levels' (H, W), coarse to fine; iterations: the run's, over all levels;
    terms: the objective's (the images they read are inputs); named_starts: the values of
    ``init`` that name no file ("content", "noise", ...)."""
    if config.animate is None:
        for name in ("animate_every", "animate_size"):
            if name in config.given:
                raise OptionError(f"{{{name}}} shapes a film; give {{animate}} too",
                                  **{name: name, "animate": "animate"})
        return Film()
    film = config.animate if isinstance(config.animate, Film) else Film()
    film.plan(iterations, shapes[-1], config.animate_every, config.animate_size)
    if film is not config.animate:
        film.path = os.fspath(config.animate)
        im.check_writable(film.path, film.shape, FILM_FORMATS)
        inputs = [s for term in terms for s in term.sources()]
        if not (isinstance(config.init, str) and config.init in named_starts):
            inputs.append(config.init)   # a starting image
        if config.model is None:
            from .weights import default_weights_path
            inputs.append(config.weights or default_weights_path())
        for source in inputs:
            if isinstance(source, (str, os.PathLike)) and im.same_file(film.path, source):
                raise OptionError(f"{{animate}} {OptionError.literal(repr(film.path))} is the "
                                  f"input file {OptionError.literal(repr(os.fspath(source)))}; "
                                  "choose another name (inputs are never overwritten)",
                                  animate="animate")
    return film

