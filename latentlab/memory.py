"""Memory a finished training gives back, so that a notebook's peak is nearer its largest stage than the sum of them.

A Keras model keeps the functions it traced for ``fit`` (and for ``predict_on_batch``, ``train_on_batch``): graphs
of every unrolled step and its gradients, about 200 MB for a 15-step interpolation agent, kept while the model
lives (notebook 05 keeps its ten agents). :func:`drop_traced` forgets them (a later ``fit`` traces again, in
seconds: :func:`latentlab.agent.train_agent` does it when an agent's training ends; ``fit`` does not, since
fine-tuning runs one ``fit`` per epoch), and :func:`give_back` returns the heap memory that is then free to the
system (glibc keeps it otherwise; :func:`latentlab.models.fit` calls it when its training ends).

What stays: TensorFlow on x86 CPUs allocates tensors from oneDNN's pool, which grows to the largest working set a
step needed (a batch's activations) and keeps it, reused by every later model. ``TF_ONEDNN_USE_SYSTEM_ALLOCATOR=true``
(read when TensorFlow makes its CPU device, at its first operation) makes tensors come from ``malloc`` instead, which
gives them back: :func:`use_system_allocator` sets it where that is still possible. Only notebook 05, which trains
ten agents and five other models in one kernel, calls it. The cost in speed did not reproduce: in two invocations
its digit agents of ``cpu`` trained at 1.00x and 0.96x the pool's speed, its face agent at 0.71x and 1.03x; other
notebooks' autoencoders at 0.67-0.98x (benchmarks/bench_allocator.py). On a GPU the working set is the device's
memory, not the host's. TensorFlow also keeps some memory of every model a process trained after the model
is gone and collected (50-60 MB for one of notebook 04's grid autoencoders of 256 channels; it stayed with oneDNN
off; none on JAX: benchmarks/model_retention.py), which neither function here gives back: notebook 04's grid trains
one model per architecture again instead (:class:`latentlab.models.denoising.ModelPool`).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from typing import Any

_TRACED = ("train_function", "test_function", "predict_function")
#: TensorFlow's switch from oneDNN's pool to the C library's allocator for CPU tensors.
SYSTEM_ALLOCATOR = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None


def give_back() -> bool:
    """Return the heap memory that is free to the operating system (glibc's ``malloc_trim(0)``). True if some was
    returned; False, doing nothing, where the C library cannot (macOS, Windows and musl return large blocks on
    ``free`` already)."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


def drop_traced(model: Any) -> int:
    """Forget the functions ``model`` and the Keras models inside it traced for training, evaluation and
    prediction (Keras traces them again when next needed). Returns how many were dropped."""
    dropped, seen, todo = 0, set(), [model]
    while todo:
        m = todo.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        for name in _TRACED:
            if getattr(m, name, None) is not None:
                setattr(m, name, None)
                dropped += 1
        todo.extend(getattr(m, "layers", ()))
    return dropped


def use_system_allocator() -> bool:
    """Have TensorFlow take CPU tensors from the C library's allocator, which returns what a finished step or model
    freed to the system, instead of oneDNN's pool, which keeps the largest working set any step needed for the rest of
    the process (see the module doc). TensorFlow reads the setting when it makes its CPU device, at its first
    operation, so call this before anything runs on it (notebook 05 does in its imports cell).

    Returns True if TensorFlow will use the system allocator: the setting was made now, or was already ``true``.
    False, changing nothing, where it cannot or should not: Keras runs on another backend (JAX and PyTorch have no such
    pool), TensorFlow has already made its device (a kernel whose cells ran before; restart it), or the user set
    ``TF_ONEDNN_USE_SYSTEM_ALLOCATOR`` to something else, which is kept."""
    chosen = os.environ.get(SYSTEM_ALLOCATOR)
    if chosen is not None:
        return chosen.strip().lower() in ("1", "true")
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != "tensorflow":
        return False
    if "tensorflow" in sys.modules:
        from tensorflow.python.eager import context  # no public way to ask whether the device exists yet

        if getattr(context.context(), "_initialized", True):
            return False
    os.environ[SYSTEM_ALLOCATOR] = "true"
    return True
