"""What a finished training gives back (latentlab.memory): its traced functions, and the heap's free memory."""

import os
import platform
import subprocess
import sys

import keras
import numpy as np
import pytest

from latentlab.agent import InterpolationAgent, make_pairs, train_agent
from latentlab.memory import SYSTEM_ALLOCATOR, drop_traced, give_back, use_system_allocator


def test_train_agent_forgets_its_traced_functions_and_trains_on_after_them(mnist):
    (x, _), _ = mnist
    start, goal = make_pairs(x[:500], 64, np.random.default_rng(0))
    agent = InterpolationAgent(mode="bptt", n_steps=2, width=4, seed=0, discriminator_lr=1e-3)
    first = train_agent(agent, start, goal, epochs=1, batch_size=16, verbose=0)
    assert agent.train_function is None and agent.predict_function is None  # dropped, discriminator's too
    assert agent.discriminator.train_function is None
    both = train_agent(agent, start, goal, epochs=2, batch_size=16, verbose=0)  # traced again, and it trains on
    assert len(both["loss"]) == 2 and both["final_distance"][-1] < first["final_distance"][0]


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


# A fresh process: sets the allocator (or not) at a given moment, then runs 400 MB of convolutions and frees them.
ALLOCATOR_CHILD = """
import gc, sys
import keras, numpy as np
from latentlab.memory import give_back, use_system_allocator
def anon():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("RssAnon"))
if sys.argv[1] == "late":
    keras.ops.sum(np.ones(3))  # TensorFlow makes its device: too late to choose
chosen = use_system_allocator()
before = anon()
layer = keras.layers.Conv2D(64, 3, padding="same")
x = np.random.default_rng(0).random((48, 128, 128, 32), dtype=np.float32)
for _ in range(2):
    keras.ops.convert_to_numpy(keras.ops.sum(layer(x)))
del layer, x
gc.collect()
give_back()
print(chosen, anon() - before)
"""


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow" or not sys.platform.startswith("linux"), reason="TensorFlow's pool, /proc"
)
def test_the_system_allocator_gives_a_working_set_back_when_chosen_before_the_first_operation():
    env = {k: v for k, v in os.environ.items() if k != SYSTEM_ALLOCATOR}
    kept = {}
    for when in ("early", "late"):
        run = subprocess.run([sys.executable, "-c", ALLOCATOR_CHILD, when], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        chosen, left = run.stdout.split()[-2:]
        kept[when] = (chosen, int(left))
    assert kept["early"][0] == "True" and kept["late"][0] == "False", kept
    # the pool keeps the convolutions' working set (a 200 MB output, and more), malloc gives it back
    assert kept["early"][1] < 100 < kept["late"][1] - 100, kept


def test_use_system_allocator_keeps_the_users_setting(monkeypatch):
    monkeypatch.setenv(SYSTEM_ALLOCATOR, "false")
    assert use_system_allocator() is False and os.environ[SYSTEM_ALLOCATOR] == "false"
    monkeypatch.setenv(SYSTEM_ALLOCATOR, "true")
    assert use_system_allocator() is True
    monkeypatch.delenv(SYSTEM_ALLOCATOR)
    keras.ops.sum(np.ones(3))  # this process's backend has run: too late (on JAX or PyTorch: not TensorFlow)
    assert use_system_allocator() is False
    assert SYSTEM_ALLOCATOR not in os.environ
