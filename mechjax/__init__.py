"""mechjax: differentiable mechanism design and social choice in JAX."""

__version__ = "0.1.0"
