"""What a finished training gives back (latentlab.memory): its traced functions, and the heap's free memory."""

import platform
import sys

import keras
import numpy as np

from latentlab.agent import InterpolationAgent, make_pairs, train_agent
from latentlab.memory import drop_traced, give_back


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
