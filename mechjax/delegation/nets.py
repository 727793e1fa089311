"""A learned delegation rule: a message-passing network from (estimates, network) to a policy.

Each voter starts from local features (her estimate, degree, the best estimate she may delegate
to, how many voters may delegate to her ...); ``depth`` rounds mix each voter's state with the mean
state of her neighbours and of the voters who may delegate to her (so a popular candidate proxy
can learn to decline votes it cannot hold under the cap). A pair score rates each allowed
delegation i -> j from both states and the estimate gap; a self score rates casting. The
policy is the softmax over {cast} and the allowed delegations, so it is upward (acyclic) and
equivariant to renaming voters by construction.
"""

from __future__ import annotations

import flax.nnx as nnx
import jax
import jax.numpy as jnp

from mechjax.delegation.rules import DelegationInputs, allowed


def _features(inputs: DelegationInputs, ok):
    e = inputs.estimate
    adj = inputs.adjacency.astype(jnp.float32)
    n = e.shape[-1]
    deg = adj.sum(-1)
    mean_nbr = jnp.einsum("bij,bj->bi", adj, e) / jnp.maximum(deg, 1.0)
    okf = ok.astype(jnp.float32)
    best_gain = jnp.max(jnp.where(ok, e[:, None, :] - e[:, :, None], 0.0), -1)
    return jnp.stack([e, deg / n, mean_nbr, best_gain, okf.sum(-1) / n, okf.sum(-2) / n, 2 * e - 1], -1)


class DelegationNet(nnx.Module):
    """``DelegationInputs -> policy [b, n, n]`` (row-stochastic, upward only).

    Args:
        dim: hidden width.
        depth: message-passing rounds.
        rngs: NNX random streams.
    """

    NUM_FEATURES = 7

    def __init__(self, dim: int = 32, depth: int = 2, *, rngs: nnx.Rngs):
        self.embed = nnx.Linear(self.NUM_FEATURES, dim, rngs=rngs)
        self.mix = nnx.List([nnx.Linear(3 * dim, dim, rngs=rngs) for _ in range(depth)])
        self.pair_in = nnx.Linear(2 * dim + 2, dim, rngs=rngs)
        self.pair_out = nnx.Linear(dim, 1, rngs=rngs)
        self.self_in = nnx.Linear(dim + 1, dim, rngs=rngs)
        self.self_out = nnx.Linear(dim, 1, rngs=rngs)

    def __call__(self, inputs: DelegationInputs, training: bool = False):
        ok = allowed(inputs)
        e = inputs.estimate
        adj = inputs.adjacency.astype(jnp.float32)
        okf = ok.astype(jnp.float32)
        h = jax.nn.gelu(self.embed(_features(inputs, ok)))
        for layer in self.mix:
            nbr = jnp.einsum("bij,bjd->bid", adj, h) / jnp.maximum(adj.sum(-1), 1.0)[..., None]
            into = jnp.einsum("bji,bjd->bid", okf, h) / jnp.maximum(okf.sum(-2), 1.0)[..., None]
            h = h + jax.nn.gelu(layer(jnp.concatenate([h, nbr, into], -1)))
        n = e.shape[-1]
        gap = e[:, None, :] - e[:, :, None]
        pair = jnp.concatenate([jnp.broadcast_to(h[:, :, None], h.shape[:2] + (n, h.shape[-1])),
                                jnp.broadcast_to(h[:, None, :], h.shape[:2] + (n, h.shape[-1])),
                                gap[..., None], okf.sum(-2)[:, None, :, None] / n
                                * jnp.ones_like(gap[..., None])], -1)
        pair_logit = self.pair_out(jax.nn.gelu(self.pair_in(pair)))[..., 0]
        self_logit = self.self_out(jax.nn.gelu(self.self_in(jnp.concatenate([h, e[..., None]], -1))))[..., 0]
        eye = jnp.eye(n, dtype=bool)[None]
        logits = jnp.where(eye, self_logit[:, :, None], jnp.where(ok, pair_logit, -jnp.inf))
        return jax.nn.softmax(logits, -1)
