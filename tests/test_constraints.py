"""Augmented Lagrangian and regret-budget updates follow their schedules."""

import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.core.constraints import AugmentedLagrangian, RegretBudget
from mechjax.core.types import Terms
from mechjax.errors import ConfigError


def terms(v):
    return Terms(jnp.asarray(-1.0), jnp.asarray(v, jnp.float32), {})


def test_combine_is_the_augmented_lagrangian():
    alm = AugmentedLagrangian(lambda_init=2.0, rho_init=3.0)
    c = alm.init(2)
    g = np.array([0.1, 0.3])
    expected = -1.0 + 2.0 * g.sum() + 0.5 * 3.0 * (g**2).sum()
    assert float(alm.combine(terms(g), c)) == pytest.approx(expected, rel=1e-6)


def test_multipliers_move_by_rho_times_window_mean_violation():
    alm = AugmentedLagrangian(lambda_init=1.0, rho_init=2.0, update_every=4, rho_every=1000)
    c = alm.init(2)
    rng = np.random.default_rng(0)
    history = rng.uniform(0, 0.1, size=(8, 2))
    for step in range(8):
        before = np.asarray(c.multipliers)
        c = alm.update(terms(history[step]), c, jnp.asarray(step))
        after = np.asarray(c.multipliers)
        if (step + 1) % 4:
            np.testing.assert_array_equal(after, before)
        else:
            window = history[step - 3: step + 1].mean(axis=0)
            np.testing.assert_allclose(after, before + 2.0 * window, rtol=1e-5)


def test_rho_grows_on_schedule_and_is_capped():
    alm = AugmentedLagrangian(rho_init=1.0, rho_increment=2.0, rho_every=3, rho_max=4.0, update_every=1)
    c = alm.init(1)
    rhos = []
    for step in range(12):
        c = alm.update(terms([0.0]), c, jnp.asarray(step))
        rhos.append(float(c.rho))
    assert rhos == [1, 1, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4]


def test_budget_dual_rises_above_budget_and_falls_to_zero_below():
    con = RegretBudget(budget=0.01, dual_init=1.0, dual_lr=10.0)
    c = con.init(2)
    c = con.update(terms([0.05, 0.03]), c, jnp.asarray(0))
    assert float(c.dual) == pytest.approx(1.0 + 10.0 * (0.04 - 0.01))
    for step in range(100):
        c = con.update(terms([0.0, 0.0]), c, jnp.asarray(step))
    assert float(c.dual) == 0.0


@pytest.mark.parametrize("kwargs,field", [
    (dict(rho_init=0.0), "constraint.rho_init"),
    (dict(update_every=0), "constraint.update_every"),
    (dict(lambda_init=-1.0), "constraint.lambda_init"),
])
def test_bad_lagrangian_settings_name_field(kwargs, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        AugmentedLagrangian(**kwargs)
