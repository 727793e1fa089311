"""Ideal-point model: the reward is a mixture of prototype rewards, fitting recovers the prototypes,
few-shot adaptation of only a new user's weights beats a shared reward and a per-user model from
scratch, the preset trains end to end, and bad input names its field."""

import jax
import numpy as np
import pytest

from mechjax import alignment as al
from mechjax import experiment
from mechjax.alignment import ideal_point as ip
from mechjax.alignment import ideal_point_study as study
from mechjax.errors import ConfigError, DataError

from conftest import compose_config


def test_user_reward_is_the_weighted_prototype_reward_up_to_a_constant():
    rng = np.random.default_rng(0)
    for _ in range(20):
        k, t, d, u = rng.integers(2, 9), rng.integers(1, 5), rng.integers(1, 4), 5
        emb, protos = rng.normal(size=(k, d)), rng.normal(size=(t, d))
        w = rng.dirichlet(np.ones(t), u)
        users = np.asarray(ip.ideal_point_rewards(emb, protos, w), np.float64)
        corners = np.asarray(ip.ideal_point_rewards(emb, protos, np.eye(t)), np.float64)
        brute = np.array([[-np.sum((emb[j] - w[i] @ protos) ** 2) for j in range(k)] for i in range(u)])
        assert np.allclose(users, brute, atol=1e-4)
        mixed = w @ corners  # differs from the user's reward by a constant per user
        gap = users - mixed
        assert np.allclose(gap, gap[:, :1], atol=1e-4)


def test_sampled_pairs_follow_btl_on_the_user_reward():
    pop = ip.random_ideal_point_population(jax.random.key(1), 2, 4, 2, 3, rationality=1.0)
    data = ip.sample_user_judgements(pop, jax.random.key(2), np.zeros(1, np.int32), 40000)
    r = pop.rationality * np.asarray(ip.ideal_point_rewards(pop.embedding, pop.prototypes, pop.user_weights[:1]))[0]
    i, j = data.rankings[:, 0], data.rankings[:, 1]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    for a, b in ((0, 1), (1, 3), (0, 2)):
        shown = (lo == a) & (hi == b)
        empirical = np.mean(i[shown] == a)
        assert abs(empirical - 1 / (1 + np.exp(r[b] - r[a]))) < 4 * np.sqrt(0.25 / shown.sum()) + 1e-3


def test_fit_recovers_prototypes_and_few_shot_beats_shared_and_scratch():
    out = study.few_shot_study(seed=3, num_types=2, num_responses=10, train_users=120, per_train_user=20,
                               test_users=40, heldout=16, shots=(1, 10), steps=400)
    assert out["recovery"]["min_correlation"] > 0.9  # matched prototype rewards
    assert out["oracle"] >= max(out["ideal_point"]) - 0.03  # nothing beats the true rewards by much
    assert out["ideal_point"][1] > out["shared"]  # ten pairs tell a user apart from the average
    assert out["ideal_point"][0] > out["scratch"][0] + 0.1  # one pair: the prototypes carry the rest
    assert out["ideal_point"][1] > out["scratch"][1]


def test_adapt_users_rejects_bad_input():
    pairs = np.array([[0, 1], [1, 2]])
    with pytest.raises(ConfigError, match="model"):
        study.adapt_users(pairs, np.array([0, 1]), 2, 3, model="oracle")
    with pytest.raises(ConfigError, match="embedding"):
        study.adapt_users(pairs, np.array([0, 1]), 2, 3, model="ideal_point")
    with pytest.raises(DataError, match="num_users"):
        study.adapt_users(pairs, np.array([0, 5]), 2, 3, model="scratch")
    with pytest.raises(DataError, match="rankings"):
        study.adapt_users(np.array([[0, 0]]), np.array([0]), 1, 3, model="scratch")
    with pytest.raises(ConfigError, match="num_types"):
        study.fit_ideal_point(pairs, np.array([0, 1]), 3, 0)


def test_preset_trains_evaluates_and_loads(tmp_path):
    cfg = compose_config(["+experiment=alignment_ideal_point", "progress=false", "plots=false",
                          "problem.num_annotators=120", "problem.judgements=20", "problem.num_responses=10",
                          "trainer.batch_size=2400", "trainer.steps=300", "trainer.steps_per_chunk=300",
                          "trainer.checkpoint_every=300"])
    summary = experiment.train(cfg, str(tmp_path))
    # the true rewards' accuracy on the same noisy pairs is the ceiling; a model that ignores who
    # judged cannot come near it
    assert summary["pair_accuracy"] > summary["oracle_pair_accuracy"] - 0.08
    assert -1 <= summary["prototype_min_correlation"] <= 1  # recovery itself: the few-shot test above
    rewards = al.load(str(tmp_path))()
    assert rewards.shape == (120, 10) and np.allclose(rewards.mean(-1), 0, atol=1e-4)


@pytest.mark.parametrize("override, field", [
    ("problem.entropy=-1", "problem.entropy"),
    ("problem.user_concentration=0", "problem.user_concentration"),
    ("problem.utility=linear", "problem.utility"),
    ("problem.hidden_context=true", "problem.hidden_context"),
    ("mechanism.dim=0", "mechanism.dim"),
    ("mechanism.anchor=-1", "mechanism.anchor"),
])
def test_bad_ideal_point_settings_name_the_field(override, field, tmp_path):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        experiment.train(compose_config(["+experiment=alignment_ideal_point", override]), str(tmp_path))


def test_ideal_point_mechanism_needs_the_ideal_point_task(tmp_path):
    with pytest.raises(ConfigError, match="alignment_ideal_point"):
        experiment.train(compose_config(["+experiment=alignment_btl", "mechanism=alignment_ideal_point"]),
                         str(tmp_path))
