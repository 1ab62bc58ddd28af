"""latentlab: helpers behind the notebooks on autoencoder latent spaces.

Subpackages follow the papers: :mod:`latentlab.data` (datasets and their offline sources),
:mod:`latentlab.models` (builders and training), :mod:`latentlab.latent` (statistics, samplers,
paths), :mod:`latentlab.metrics`, :mod:`latentlab.plots`, :mod:`latentlab.widgets`,
:mod:`latentlab.config` (profiles, paths, seeds) and :mod:`latentlab.report` (metrics files).

Importing latentlab sets quiet defaults for TensorFlow's C++ logging (a value the user has set is kept), and
:func:`import_backend_quietly`, which every notebook's first cell calls, loads Keras with the C++ start-up lines
kept out of the notebook: absl's "log messages before absl::InitializeLog", CPU-feature and oneDNN notes, and
the CUDA build's "Unable to register cuDNN factory" lines, which no log level silences.
"""

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

#: Environment defaults read by TensorFlow's C++ logging, gRPC and glog when they first log.
QUIET_LOGS = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "2"}
for _name, _value in QUIET_LOGS.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Within the block, whatever is written to the process's stderr (file descriptor 2) is discarded: native code's
    logging. In a notebook kernel Python's ``sys.stderr`` (warnings, the red output) is a stream of its own and
    still shows; exceptions propagate as always."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to silence (a detached process)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class RetracingNoteFilter(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning. A notebook that calls ``predict`` on one new
    model after another traces each model's function once, which TensorFlow counts as retracing one function
    and reports in red under the cell; every other TensorFlow message passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def quiet_retracing_notes() -> None:
    """Add :class:`RetracingNoteFilter` to the ``tensorflow`` logger (once)."""
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, RetracingNoteFilter) for f in logger.filters):
        logger.addFilter(RetracingNoteFilter())


def import_backend_quietly() -> None:
    """Import Keras and its backend now, with native start-up logging discarded (see the module doc) and
    TensorFlow's retracing notes filtered out (:class:`RetracingNoteFilter`). Import errors still raise. Imports
    nothing if Keras is already imported."""
    quiet_retracing_notes()
    if "keras" in sys.modules:
        return
    with native_stderr_silenced():
        import keras

        keras.backend.backend()
