"""The models on Keras's JAX backend, in a kernel without TensorFlow: a fresh Python (the backend is fixed at
``import keras``) with ``KERAS_BACKEND=jax`` and ``tensorflow`` made unimportable, on real MNIST digits and the
offline CelebA faces. The notebooks themselves: ``KERAS_BACKEND=jax latentlab run --profile smoke``."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    import tempfile

    sys.modules["tensorflow"] = None  # as in a JAX kernel where TensorFlow is not installed
    import keras
    import numpy as np

    from latentlab.agent import InterpolationAgent, train_agent
    from latentlab.batching import predict
    from latentlab.data import load_mnist, to_vectors
    from latentlab.data.celeba import cache_faces, load_celeba
    from latentlab.models import build_dense_autoencoder, fit
    from latentlab.models.conv import build_conv_autoencoder, encode_images, train_conv_autoencoder

    out = {"backend": keras.backend.backend()}
    keras.utils.set_random_seed(0)
    (x, _), _ = load_mnist(verbose=False)
    flat = to_vectors(x[:256])
    ae = build_dense_autoencoder(1)
    out["dense"] = fit(ae, flat, epochs=1, batch_size=64, verbose=0)["loss"]
    out["dense_codes"] = list(predict(ae.encoder, flat[:10]).shape)
    raw = x[:256].reshape(256, -1)  # uint8: converted a batch at a time (array_sequence) on backends without tf.data
    keras.utils.set_random_seed(0)  # as for the dense AE above: the same start and order
    out["uint8"] = fit(build_dense_autoencoder(1), raw, epochs=1, batch_size=64, verbose=0, from_uint8=True)["loss"]

    digits = (x[:32, ..., None] / 255.0).astype(np.float32)
    agent = InterpolationAgent(mode="bptt", n_steps=1, width=8)
    out["agent"] = train_agent(agent, digits, np.roll(digits, 2, axis=2), epochs=1, batch_size=16, verbose=0)["loss"]
    out["agent_final"] = list(agent.interpolate(digits[:4], digits[4:8])["final"].shape)

    faces = load_celeba("all", verbose=False)
    conv = build_conv_autoencoder(8, (64, 64, 3), (4, 8))
    out["stream"] = type(faces.dataset(16)).__name__
    out["conv"] = train_conv_autoencoder(conv, faces[:32], faces[32:48], epochs=1, batch_size=16, verbose=0)["loss"]
    out["conv_codes"] = list(encode_images(conv.encoder, faces[:20], batch_size=16).shape)
    cache = cache_faces(faces[:48], 64, tempfile.mkdtemp() + "/faces.npy", verbose=False)  # notebook 02's path
    train, held = cache.rows(slice(0, 32)), cache.rows(slice(32, 48))
    cached = build_conv_autoencoder(8, (64, 64, 3), (4, 8))
    out["cached"] = train_conv_autoencoder(cached, train, held, epochs=1, batch_size=16, verbose=0)["loss"]
    out["cached_codes"] = list(encode_images(cached.encoder, cache.rows(slice(0, 20)), batch_size=16).shape)
    print("RESULT " + json.dumps(out))
    """
)


@pytest.mark.slow  # about 2 CPU-minutes: JAX traces the agent's episode and three models
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (pip install -e '.[jax]')")
def test_dense_ae_agent_and_conv_ae_train_on_jax_without_tensorflow(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax", "LATENTLAB_BUILD": str(tmp_path), "LATENTLAB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["backend"] == "jax" and out["stream"] == "FaceBatches"
    assert out["dense_codes"] == [10, 32] and out["agent_final"] == [4, 28, 28, 1] and out["conv_codes"] == [20, 8]
    assert out["cached_codes"] == [20, 8]
    assert out["uint8"] == out["dense"], "from_uint8 feeds the values of to_vectors' floats"
    for name in ("dense", "agent", "conv", "cached"):
        assert len(out[name]) == 1 and out[name][0] == out[name][0] and abs(out[name][0]) < 1e6, (name, out[name])
