"""Generated digits judged (notebook 01, section 7) on real MNIST: codes are the digits on their first 8
principal axes, decoding is the PCA reconstruction, and the judge a nearest-neighbour classifier on pixels."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from latentlab.errors import ParameterError
from latentlab.experiments.gmm_sweep import fit_per_k, gmm_sweep, judge_per_k
from latentlab.experiments.judging import copy_distance, judge_images, judge_sampler
from latentlab.latent import ClassGaussian, ClassGMM, pca


@pytest.fixture(scope="module")
def setting(small_mnist):
    x, y = small_mnist
    train, held_out = slice(0, 1500), slice(1500, 2000)
    P = pca(x[train])
    z = P.project(x[train], 8)
    decode = lambda codes: (P.mean + codes @ P.components[:8]).astype(np.float32)  # noqa: E731
    judge = KNeighborsClassifier(3).fit(x[train], y[train])
    return {
        "P": P,
        "x": x[train],
        "y": y[train],
        "held_out": x[held_out],
        "held_labels": y[held_out],
        "z": z,
        "decode": decode,
        "classify": judge.predict,
        "decoded_train": decode(z),
    }


def test_a_near_copy_is_nearer_than_all_but_a_share_of_real_held_out_images(setting):
    x, held_out = setting["x"], setting["held_out"]
    near = copy_distance(held_out, x, share=0.1)
    scores = judge_images(held_out, setting["held_labels"], setting["classify"], x, near)
    assert scores["near_copies"] == pytest.approx(0.1, abs=0.01)  # by construction, up to ties
    assert judge_images(x[:50], setting["y"][:50], setting["classify"], x, near)["near_copies"] == 1.0
    noise = np.random.default_rng(0).random((50, 784)).astype(np.float32)
    assert judge_images(noise, setting["y"][:50], setting["classify"], x, near)["near_copies"] == 0.0
    assert "near_copies" not in judge_images(held_out, setting["held_labels"], setting["classify"], x)
    with pytest.raises(ParameterError, match="share=1.5"):
        copy_distance(held_out, x, share=1.5)


def test_a_sampler_is_judged_on_the_digits_it_draws(setting):
    narrow = ClassGaussian(cov_scale=0.1).fit(setting["z"], setting["y"])
    args = (setting["decode"], setting["classify"], setting["x"])
    scores, images, labels = judge_sampler(narrow, 20, *args, np.random.default_rng(0))
    assert images.shape == (200, 784) and labels.tolist() == np.repeat(np.arange(10), 20).tolist()
    assert scores["accuracy"] > 0.8, "codes near each class mean decode to that digit"
    wide, _, _ = judge_sampler(
        ClassGaussian(cov_scale=1.0).fit(setting["z"], setting["y"]), 20, *args, np.random.default_rng(0)
    )
    assert wide["diversity"] > 1.5 * scores["diversity"]
    again, _, _ = judge_sampler(narrow, 20, *args, np.random.default_rng(0))
    assert again == scores, "same generator, same scores"


def test_more_components_copy_more_and_every_k_is_judged(setting, capsys):
    z, y, decoded = setting["z"], setting["y"], setting["decoded_train"]
    one = ClassGMM(1, seed=0).fit(z, y)
    models = fit_per_k(z, y, [1, 60], fitted={1: one}, seed=0)
    assert list(models) == [1, 60] and models[1] is one and models[60].n_components == 60
    assert "class mixtures per K" in capsys.readouterr().err
    near = copy_distance(setting["decode"](setting["P"].project(setting["held_out"], 8)), decoded)
    judged = judge_per_k(models, 30, setting["decode"], setting["classify"], decoded, np.random.default_rng(1), near)
    assert judged["k"] == [1, 60] and set(judged) == {"k", "accuracy", "diversity", "novelty", "near_copies"}
    # 60 components for about 150 codes of a class: samples stay close to the codes they were fitted on
    assert judged["near_copies"][1] > judged["near_copies"][0] + 0.2 and judged["novelty"][1] < judged["novelty"][0]
    assert gmm_sweep(z, y, z[:300], y[:300], [1, 60], fitted=models)["k"] == [1, 60]
    with pytest.raises(ParameterError, match="models is empty"):
        judge_per_k({}, 30, setting["decode"], setting["classify"], decoded, np.random.default_rng(1))
