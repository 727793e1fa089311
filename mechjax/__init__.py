"""mechjax: differentiable mechanism design and social choice in JAX."""

__version__ = "0.1.0"


def load(run_dir: str, replica: int = 0, step=None):
    """``mechanism, problem = mechjax.load(run_dir)``: a trained mechanism as a plain jittable function.

    See :func:`mechjax.experiment.load`.
    """
    from mechjax.experiment import load as _load
    return _load(run_dir, replica=replica, step=step)
