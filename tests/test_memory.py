"""What a finished training gives back (latentlab.memory): its traced functions, and the heap's free memory."""

import platform
import sys

import keras
import numpy as np

from latentlab.memory import drop_traced, give_back
from latentlab.models import build_dense_autoencoder, fit


def test_fit_forgets_its_traced_function_and_trains_on_after_it(mnist):
    (x, _), _ = mnist
    x = x[:512].reshape(512, -1) / 255.0
    keras.utils.set_random_seed(0)
    ae = build_dense_autoencoder(5)
    first = fit(ae, x, epochs=1, batch_size=64, verbose=0)
    assert ae.train_function is None  # dropped by fit
    both = fit(ae, x, epochs=2, batch_size=64, verbose=0)  # traced again, and it still learns
    assert len(both["loss"]) == 2 and both["loss"][-1] < first["loss"][0]


def test_drop_traced_reaches_models_inside_a_model():
    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    inner.compile(optimizer="sgd", loss="mse")
    inner.train_on_batch(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"))
    outer = keras.Sequential([keras.Input((3,)), inner])
    outer.compile(optimizer="sgd", loss="mse")
    outer.predict_on_batch(np.ones((4, 3), "float32"))
    assert inner.train_function is not None and outer.predict_function is not None
    assert drop_traced(outer) == 2
    assert inner.train_function is None and outer.predict_function is None
    assert drop_traced(outer) == 0


def test_give_back_trims_the_heap_where_glibc_can():
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    blocks = [bytearray(1024) for _ in range(200_000)]  # 200 MB of small blocks, freed in the heap
    del blocks
    assert give_back() is on_glibc
