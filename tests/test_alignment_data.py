"""Alignment data: populations, judgements, validation and .soi / CSV round trips."""

import jax
import numpy as np
import pytest

from mechjax import alignment as al
from mechjax.alignment.identifiability import adjusted_rand_index
from mechjax.errors import ConfigError, DataError


def test_sampled_pair_frequencies_match_exact_probabilities():
    pop = al.random_population(jax.random.key(0), 3, 4, rationality=1.5)
    data = al.sample_judgements(pop, jax.random.key(1), 40_000, 1, k=2)
    wins = np.zeros((4, 4))
    np.add.at(wins, (data.rankings[:, 0], data.rankings[:, 1]), 1)
    freq = wins / np.maximum(wins + wins.T, 1)
    exact = al.pair_probabilities(pop)
    off = ~np.eye(4, dtype=bool)
    assert np.abs(freq - exact)[off].max() < 0.03  # ~6,700 draws per pair: 4 standard errors


def test_three_way_frequencies_match_plackett_luce():
    pop = al.random_population(jax.random.key(2), 2, 3, rationality=1.0)
    data = al.sample_judgements(pop, jax.random.key(3), 30_000, 1, k=3)
    orders, probs = al.ranking_probabilities(pop, range(3))
    assert abs(probs.sum() - 1) < 1e-12
    freq = np.array([(data.rankings == o).all(1).mean() for o in orders])
    assert np.abs(freq - probs).max() < 0.015


def test_annotators_keep_their_type_unless_hidden_context():
    pop = al.random_population(jax.random.key(4), 3, 5)
    data = al.sample_judgements(pop, jax.random.key(5), 200, 4, k=3)
    assert data.rankings.shape == (800, 3) and data.annotator.tolist() == np.repeat(np.arange(200), 4).tolist()
    assert (data.types.reshape(200, 4) == data.types[::4, None]).all()
    hidden = al.sample_judgements(pop, jax.random.key(5), 200, 4, k=3, hidden_context=True)
    assert not (hidden.types.reshape(200, 4) == hidden.types[::4, None]).all()
    for rows in (data.rankings, hidden.rankings):  # k distinct responses in range
        assert (np.sort(rows, 1)[:, 1:] != np.sort(rows, 1)[:, :-1]).all() and rows.max() < 5


@pytest.mark.parametrize("utility", ["linear", "mlp"])
def test_feature_populations_have_features(utility):
    pop = al.random_population(jax.random.key(6), 2, 7, utility=utility, feature_dim=3)
    assert pop.features.shape == (7, 3) and pop.utilities.shape == (2, 7)
    assert np.isfinite(pop.utilities).all() and np.ptp(pop.utilities) > 0


@pytest.mark.parametrize("rankings, annotator, message", [
    ([[0, 0]], None, "repeats a response"),
    ([[0, 5]], None, "outside 0..3"),
    ([[0, 1], [1, 2]], [0], "annotator must be"),
    ([[0.5, 1]], None, "integer"),
    ([[0]], None, "k >= 2"),
])
def test_bad_judgements_name_the_argument(rankings, annotator, message):
    with pytest.raises(DataError, match=message):
        al.check_preferences(np.asarray(rankings), 4, annotator)


def test_bad_population_and_fit_arguments_fail_before_compiling():
    with pytest.raises(ConfigError, match="num_types"):
        al.random_population(jax.random.key(0), 0, 4)
    with pytest.raises(ConfigError, match="num_types"):
        al.fit_mixture(np.array([[0, 1]]), np.array([0]), 3, 0, jax.random.key(0))
    with pytest.raises(DataError, match="annotator"):
        al.fit_mixture(np.array([[0, 1], [1, 0]]), np.array([0]), 3, 2, jax.random.key(0))
    with pytest.raises(DataError, match="repeats"):
        al.fit_reward(np.array([[1, 1]]), 3)
    with pytest.raises(DataError, match="pairs"):
        al.fit_reward(np.array([[0, 1, 2]]), 3, model="btl")
    with pytest.raises(ConfigError, match="model"):
        al.fit_reward(np.array([[0, 1]]), 3, model="borda")
    with pytest.raises(ConfigError, match="rationality"):
        al.Population(np.zeros((1, 3)), np.ones(1), rationality=-1.0)


def test_soi_and_csv_round_trip(tmp_path):
    pop = al.random_population(jax.random.key(7), 2, 6)
    data = al.sample_judgements(pop, jax.random.key(8), 50, 3, k=3)
    al.write_soi(tmp_path / "d.soi", data)
    back = al.read_soi(tmp_path / "d.soi")
    assert (back.rankings == data.rankings).all() and (back.annotator == data.annotator).all()
    assert back.num_responses == 6
    al.write_csv(tmp_path / "d.csv", data)
    back = al.read_csv(tmp_path / "d.csv")
    assert (back.rankings == data.rankings).all() and (back.annotator == data.annotator).all()
    with pytest.raises(FileExistsError):
        al.write_csv(tmp_path / "d.csv", data)


def test_csv_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("# num_responses=4\nannotator,r1,r2\n0,1,2\n1,3,3\n")
    with pytest.raises(DataError, match=r"bad.csv:4: .*repeats"):
        al.read_csv(path)
    path.write_text("# num_responses=4\n0,1,x\n")
    with pytest.raises(DataError, match=r"bad.csv:2"):
        al.read_csv(path)


def test_adjusted_rand_index_against_known_values():
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    # hand-computed: contingency [[2, 1], [0, 1]] -> ARI = (1 - 2*1/6... ) worked out: 0.0
    assert adjusted_rand_index([0, 0, 0, 1], [0, 0, 1, 1]) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    assert abs(adjusted_rand_index(rng.integers(0, 3, 5000), rng.integers(0, 3, 5000))) < 0.01
