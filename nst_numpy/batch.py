"""Many pictures in one call: every content image in the style of every style image.

    result = stylize_batch(["photos/"], ["wave.jpg", "swirls.jpg"], "out/", size=384)
    print(result.summary())

Each pair (content, style) is one run of :func:`nst_numpy.stylize` with the same options,
written to ``out/<content stem>_<style stem>.png``. Several styles are not blended: each is
a run of its own. The network is loaded once, and each style's targets are computed once and
reused for every content (:class:`StyleTargets`). A picture already there is skipped, so the
same call resumes a batch that was stopped; ``overwrite=True`` replaces them. An input that
cannot be used (an unreadable picture, one too small for the layers) is reported and the
others go on; a bad option, or an output that would name an input, is refused before any
run. Ctrl-C stops after saving nothing of the run it cut short (a half-finished picture is
not a result, and would be skipped when the batch resumes).
"""

from dataclasses import dataclass, field
import functools
import glob
import os
import time

from . import image as im
from ._checks import OptionError, choice
from .models import load_vgg
from .options import INITS, NETWORK, Config
from .transfer import output_shape, plan
from .weights import default_weights_path

# Files a folder given as input contributes: the picture formats Pillow reads here.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
OUTPUT_FORMATS = ("png", "jpg", "webp")
# stylize's options that do not apply to a batch, and why.
NOT_IN_A_BATCH = {
    "masks": "masks are drawn for one content image",
    "style_blend": "each style is a run of its own, never blended",
    "animate": "a film is of one run", "animate_every": "a film is of one run",
    "animate_size": "a film is of one run",
}


def _as_list(sources):
    return [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)


def expand(sources, what):
    """The image files named by ``sources``: paths, folders (their image files, by name,
    not their sub-folders') and glob patterns (``"photos/*.jpg"``); each file once, in the order
    given. A path that does not exist, a pattern that matches nothing and a folder with no
    image are refused in one line (a typing mistake, before any run)."""
    found, seen = [], set()
    for source in _as_list(sources):
        if not isinstance(source, (str, os.PathLike)):
            raise ValueError(f"{what} images must be paths, folders or glob patterns, got a "
                             f"{type(source).__name__}")
        source = os.fspath(source)
        if os.path.isdir(source):
            files = [os.path.join(source, name) for name in sorted(os.listdir(source))
                     if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
                     and os.path.isfile(os.path.join(source, name))]
            if not files:
                raise ValueError(f"{what} folder {source!r} holds no image "
                                 f"({', '.join(IMAGE_EXTENSIONS)})")
        elif os.path.lexists(source):
            files = [source]
        elif glob.has_magic(source):
            files = [f for f in sorted(glob.glob(source)) if os.path.isfile(f)]
            if not files:
                raise ValueError(f"no {what} file matches {source!r}")
        else:
            raise ValueError(f"{what} image {source!r} does not exist; check the path")
        for file in files:
            if _file_key(file) not in seen:
                seen.add(_file_key(file))
                found.append(file)
    return found


def output_path(folder, content, style, fmt="png"):
    """``folder/<content stem>_<style stem>.<fmt>``."""
    return os.path.join(folder, f"{_stem(content)}_{_stem(style)}.{fmt}")


def _stem(path):
    return os.path.splitext(os.path.basename(os.fspath(path)))[0]


class StyleTargets:
    """Each style term's targets, computed once and reused for every content: the
    ``share_targets`` of a run's plan (:func:`nst_numpy.transfer.plan`).

    A term says what its targets depend on (:meth:`~nst_numpy.terms.Term.targets_key`;
    None, as for a style recoloured to each content, keeps them to their run) and how
    targets computed for one output shape serve another
    (:meth:`~nst_numpy.terms.Term.carried_targets`): Gram matrices are rescaled by
    ``M_l' / M_l`` for any output with the same longest side, MRF patches and W2's Gaussians
    are kept as they are. ``computed`` and ``reused`` count the targets computed and the
    times they were reused.
    """

    def __init__(self):
        self.saved, self.computed, self.reused = {}, 0, 0

    def __call__(self, terms):
        for term in terms:
            if term.targets_key() is not None:
                term.targets = functools.partial(self.targets, term, term.targets)
        return list(terms)

    def targets(self, term, compute, model, shape, dtype):
        """Targets saved for the same key that the term can carry over to ``shape``, or
        ``compute(model, shape, dtype)``, saved."""
        key = (term.targets_key(), id(model), str(dtype))
        for saved_shape, saved in self.saved.get(key, []):
            carried = term.carried_targets(model, saved, saved_shape, shape)
            if carried is not None:
                self.reused += 1
                return carried
        self.computed += 1
        targets = compute(model, shape, dtype)
        self.saved.setdefault(key, []).append((tuple(shape), targets))
        return targets


@dataclass
class BatchRun:
    """One (content, style) pair: its output, and what became of it. status: "written",
    "skipped" (the output was there), "failed", "interrupted" (Ctrl-C, nothing written) or
    "not run" (after an interruption); error: why it failed."""
    content: str
    style: str
    output: str
    status: str = "not run"
    error: Exception = None
    seconds: float = 0.0
    iterations: int = 0
    shape: tuple = None

    def line(self, spell=None):
        """One line saying what became of the run; ``spell`` renders the option names of a
        refusal (the command line's flags; default the keywords)."""
        pair = f"{os.path.basename(self.content)} x {os.path.basename(self.style)}"
        if self.status == "written":
            return (f"wrote {self.output} ({self.shape[1]}x{self.shape[0]}, {self.iterations} "
                    f"iterations, {self.seconds:.0f} s)")
        if self.status == "skipped":
            return f"skipped {self.output}: it exists (overwrite replaces it)"
        if self.status == "failed":
            return f"failed {pair}: {describe(self.error, spell)}"
        return f"{self.status} {pair}"


def describe(error, spell=None):
    """An error's one line, option names spelled by ``spell`` (keywords by default)."""
    if isinstance(error, OptionError) and spell is not None:
        return error.render(spell, " ")
    return str(error)


@dataclass
class BatchResult:
    """runs: every (content, style) pair in order; seconds: wall time; interrupted: whether
    Ctrl-C (or SIGTERM) stopped the batch; styles: each style's :class:`StyleTargets`."""
    runs: list
    seconds: float = 0.0
    interrupted: bool = False
    styles: dict = field(default_factory=dict)

    def with_status(self, status):
        return [run for run in self.runs if run.status == status]

    @property
    def failed(self):
        return self.with_status("failed")

    def summary(self, spell=None):
        """What the batch did, in a few lines: the counts, the failures, how to resume."""
        counts = {s: len(self.with_status(s)) for s in
                  ("written", "skipped", "failed", "interrupted", "not run")}
        said = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        computed = sum(t.computed for t in self.styles.values())
        reused = sum(t.reused for t in self.styles.values())
        lines = [f"batch: {len(self.runs)} runs: {said}, in {self.seconds:.0f} s (style "
                 f"targets: {computed} computed, {reused} reused)"]
        lines += [f"  {run.line(spell)}" for run in self.failed]
        if self.interrupted:
            lines.append("  stopped: nothing of the run cut short was written; the same "
                         "command resumes (the pictures written are skipped)")
        return "\n".join(lines)


def stylize_batch(contents, styles, output_dir, overwrite=False, format="png", keep="best",
                  report=None, **options):
    """Stylize every content image in every style, each pair a run of its own.

    Parameters
    ----------
    contents, styles : path, folder or glob pattern, or a list of them
        A folder stands for its image files (:func:`expand`).
    output_dir : path
        Where the pictures go, ``<content stem>_<style stem>.<format>`` (created if need
        be). Two inputs whose outputs would share a name, and an output that would name an
        input, are refused before any run.
    overwrite : bool
        Replace pictures already there (default: skip them, so that a stopped batch
        resumes where it stopped).
    format : {"png", "jpg", "webp"}
    keep : {"best", "last"}
        Write the picture with the lowest loss seen, or the last.
    report : callable, optional
        ``report(run)`` with each :class:`BatchRun` as it ends (or is skipped).
    **options
        Any option of :func:`nst_numpy.stylize` (its ``model`` included), applied to every
        run, but masks, style_blend and animate (a batch has one style per run).

    Returns
    -------
    BatchResult
        Never raises for one input that fails (its run says why); a refusal of the options
        or of the outputs raises before any run, in one line.
    """
    started = time.perf_counter()
    choice("format", format, OUTPUT_FORMATS)
    choice("keep", keep, ("best", "last"))
    for name in sorted(set(options) & set(NOT_IN_A_BATCH)):
        raise OptionError(f"{{{name}}} does not apply to a batch ({NOT_IN_A_BATCH[name]}); "
                          "use stylize", **{name: name})
    config = Config(options, where="stylize_batch")   # every value checked, nothing loaded
    for folder in _as_list(contents) + _as_list(styles):
        if isinstance(folder, (str, os.PathLike)) and os.path.isdir(folder) and \
                os.path.isdir(output_dir) and os.path.samefile(folder, output_dir):
            raise ValueError(f"the output folder {output_dir!r} is the input folder {folder!r}: "
                             "a rerun would read the pictures written as inputs; choose "
                             "another output folder")
    contents, styles = expand(contents, "content"), expand(styles, "style")
    for style in styles:
        im.image_size(style)   # a style that cannot be read would fail every run: refused
    runs = plan_outputs(contents, styles, output_dir, format, config)
    os.makedirs(output_dir, exist_ok=True)
    for run in runs:
        if run.shape is not None:
            im.check_writable(run.output, run.shape)
        if run.status == "not run" and os.path.lexists(run.output) and not overwrite:
            run.status = "skipped"
    result = BatchResult(runs, styles={style: StyleTargets() for style in styles})
    model = config.model or load_vgg(config.weights, arch=config.arch, pooling=config.pooling,
                                     fast=config.fast, normalized=config.normalized)
    config = Config({k: v for k, v in options.items() if k not in NETWORK} | {"model": model},
                    where="stylize_batch")
    check_runs(result, config)
    try:
        for run in runs:
            if run.status == "not run":
                stylize_run(run, result.styles[run.style], config, keep)
            if report is not None:
                report(run)
            if run.status == "interrupted":
                result.interrupted = True
                break
    finally:
        result.seconds = time.perf_counter() - started
    return result


def plan_outputs(contents, styles, output_dir, fmt, config):
    """A :class:`BatchRun` per (content, style), content by content; a content whose header
    cannot be read fails now (the others go on). Refused in one line: an output folder that
    is a file, two runs that would write one file, an output that would name an input."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError(f"the output folder {output_dir!r} is a file; give a folder")
    runs, by_name = [], {}
    for content in contents:
        try:
            shape, error = output_shape(content, config.size), None
        except ValueError as unreadable:
            shape, error = None, unreadable
        for style in styles:
            run = BatchRun(content, style, output_path(output_dir, content, style, fmt),
                           shape=shape)
            if error is not None:
                run.status, run.error = "failed", error
            name = os.path.normcase(os.path.basename(run.output))
            if name in by_name:
                other = by_name[name]
                raise ValueError(f"{other.content} x {other.style} and {content} x {style} "
                                 f"would both write {run.output!r}; rename one of the inputs, "
                                 "or run them as two batches")
            by_name[name] = run
            runs.append(run)
    inputs = [*contents, *styles, default_weights_path() if config.weights is None
              else config.weights]
    if isinstance(config.init, (str, os.PathLike)) and not (isinstance(config.init, str)
                                                            and config.init in INITS):
        inputs.append(config.init)   # a starting image
    read = {_file_key(source): source for source in inputs}
    for run in runs:
        if os.path.exists(run.output) and _file_key(run.output) in read:
            raise ValueError(f"output {run.output!r} is the input file "
                             f"{os.fspath(read[_file_key(run.output)])!r}; choose another "
                             "output folder (inputs are never overwritten)")
    return runs


def check_runs(result, config):
    """Every run's refusals, by stylize's own checks (nothing decoded or run): a run refused
    fails now and the others go on; when no run is left, the first refusal is raised (a
    bad option, or inputs that all fail: nothing would run)."""
    for run in result.runs:
        if run.status == "not run":
            try:
                plan(config, run.content, [run.style], result.styles[run.style])
            except (ValueError, OSError) as error:
                run.status, run.error = "failed", error
    todo = [run for run in result.runs if run.status != "skipped"]
    if todo and all(run.status == "failed" for run in todo):
        raise todo[0].error


def stylize_run(run, targets, config, keep="best"):
    """One stylization, written to ``run.output`` unless it failed or was interrupted (its
    status says which); ``targets``: the style's :class:`StyleTargets`."""
    started = time.perf_counter()
    try:
        result = plan(config, run.content, [run.style], targets)()
        run.iterations, run.seconds = result.iterations, time.perf_counter() - started
        if result.stopped == "interrupted":
            run.status = "interrupted"
        elif result.failed:
            run.status, run.error = "failed", ValueError(result.message)
        else:
            best = keep == "best" and result.best_loss < float("inf")
            im.save_image(result.best_image if best else result.image, run.output)
            run.status = "written"
    except KeyboardInterrupt:   # while a target was computed or the picture written
        run.status = "interrupted"
    except (ValueError, OSError, MemoryError) as error:
        run.status, run.error = "failed", error
    run.seconds = time.perf_counter() - started


def _file_key(path):
    """What identifies the file at ``path``: its device and inode, whatever link or ``..``
    leads there (a path that names no file: itself, every link followed)."""
    if not os.path.exists(path):
        return os.path.realpath(path)
    status = os.stat(path)
    return status.st_dev, status.st_ino
