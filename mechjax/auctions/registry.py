"""Config builders for auctions: the ``auction`` problem kind, learned and classical mechanisms."""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import flax.nnx as nnx

from mechjax import registry
from mechjax.auctions.evaluate import AttackConfig, evaluate_auction
from mechjax.auctions.nets.equivariant import EquivariantNet
from mechjax.auctions.nets.regretformer import RegretFormer
from mechjax.auctions.nets.regretnet import RegretNet
from mechjax.auctions.nets.rochetnet import RochetNet
from mechjax.auctions.optima import resolve_optimum
from mechjax.auctions.problem import AuctionProblem
from mechjax.auctions.valuations import DEMANDS, UniformValuations
from mechjax.errors import ConfigError
from mechjax.validate import convert

Bound = Union[float, Sequence[float]]


@dataclass(frozen=True)
class AuctionConfig:
    """``problem=auction/<preset>``: bidders x items with independent uniform values.

    Attributes:
        kind: always ``auction``.
        num_bidders: n >= 1.
        num_items: m >= 1.
        demand: ``additive`` or ``unit``.
        low, high: value bounds, a number (every item) or one number per item.
        optimal_revenue: ``auto`` (default: the known optimum of this very setting from
            :mod:`mechjax.auctions.optima`, or none), ``null`` (none), or a number (must agree with
            a known optimum). The evaluator flags revenue above it.
    """

    kind: str = "auction"
    num_bidders: int = 1
    num_items: int = 2
    demand: str = "additive"
    low: Bound = 0.0
    high: Bound = 1.0
    optimal_revenue: Union[float, str, None] = "auto"

    def __post_init__(self):
        for name in ("num_bidders", "num_items"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"problem.{name} must be an integer >= 1, got {value!r}")
        if self.demand not in DEMANDS:
            raise ConfigError(f"problem.demand must be one of {DEMANDS}, got {self.demand!r}")
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, (tuple, list)) and len(value) != self.num_items:
                raise ConfigError(f"problem.{name} has {len(value)} entries but problem.num_items={self.num_items}")
        self.optimum()  # a wrong explicit optimum fails here

    def per_item(self, value: Bound) -> list[float]:
        return [float(v) for v in value] if isinstance(value, (tuple, list)) else [float(value)] * self.num_items

    def optimum(self) -> tuple[Optional[float], Optional[str]]:
        """``(optimal revenue or None, source)`` of this setting (see ``optimal_revenue``)."""
        setting = f"{self.num_bidders} bidder(s) x {self.num_items} item(s), {self.demand}"
        return resolve_optimum(setting, self.optimal_revenue, self.num_bidders, self.num_items, self.demand,
                               self.per_item(self.low), self.per_item(self.high))

    def build(self) -> AuctionProblem:
        valuations = UniformValuations.per_item(self.num_bidders, self.per_item(self.low),
                                                self.per_item(self.high), self.demand)
        optimum, source = self.optimum()
        return AuctionProblem(valuations, optimum, source)


@registry.register(registry.PROBLEMS, "auction")
def build_auction_problem(section: dict) -> AuctionProblem:
    return registry.from_section(AuctionConfig, section, "problem").build()


@dataclass(frozen=True)
class RegretNetConfig:
    """``mechanism=regretnet``.

    Attributes:
        name: always ``regretnet``.
        hidden: hidden widths of the allocation and payment networks.
        activation: ``tanh``, ``relu`` or ``gelu``.
    """

    name: str = "regretnet"
    hidden: Sequence[int] = (100, 100)
    activation: str = "tanh"


def _require_auction(kind: str, name: str) -> None:
    if kind != "auction":
        raise ConfigError(f"mechanism.name={name} needs problem.kind=auction, got {kind!r}")


@dataclass(frozen=True)
class EquivariantNetConfig:
    """``mechanism=equivariantnet``.

    Attributes:
        name: always ``equivariantnet``.
        channels: widths of the exchangeable layers of the allocation and payment networks.
        activation: ``tanh``, ``relu`` or ``gelu``.
    """

    name: str = "equivariantnet"
    channels: Sequence[int] = (64, 64, 64)
    activation: str = "tanh"


@dataclass(frozen=True)
class RegretFormerConfig:
    """``mechanism=regretformer``.

    Attributes:
        name: always ``regretformer``.
        dim: token width.
        heads: attention heads (divides ``dim``).
        blocks: attention blocks.
        hidden: feed-forward width of each block.
        activation: feed-forward activation.
    """

    name: str = "regretformer"
    dim: int = 32
    heads: int = 4
    blocks: int = 2
    hidden: int = 64
    activation: str = "gelu"


@dataclass(frozen=True)
class RochetNetConfig:
    """``mechanism=rochetnet`` (one bidder only; train with ``inner=none constraint=none``).

    Attributes:
        name: always ``rochetnet``.
        menu_size: learned menu entries K (the null option comes on top).
        temperature: softmax temperature of the training relaxation, in units of the support width.
    """

    name: str = "rochetnet"
    menu_size: int = 1000
    temperature: float = 0.003


def _register_learned(name: str, config_cls, make) -> None:
    """Registers ``mechanism=<name>``: parse the section into ``config_cls``, then
    ``make(cfg, valuations, rngs) -> nnx.Module``; one abstract build (``nnx.eval_shape``: nothing
    runs or compiles) fails on bad sizes now, not in jit."""

    def build(section: dict, problem: AuctionProblem, kind: str):
        _require_auction(kind, name)
        cfg = registry.from_section(config_cls, section, "mechanism")
        v = problem.valuations
        factory = lambda rngs: make(cfg, v, rngs)  # noqa: E731
        nnx.eval_shape(lambda: factory(nnx.Rngs(0)))
        return factory

    registry.MECHANISMS[name] = build


def _rochetnet(cfg: RochetNetConfig, v, rngs: nnx.Rngs) -> RochetNet:
    if v.num_bidders != 1:
        raise ConfigError(f"mechanism.name=rochetnet is a menu for a single bidder: it needs "
                          f"problem.num_bidders == 1, got {v.num_bidders}")
    return RochetNet(v.num_items, v.demand, cfg.menu_size, cfg.temperature, v.low[0], v.high[0], rngs=rngs)


_register_learned("regretnet", RegretNetConfig, lambda cfg, v, rngs: RegretNet(
    v.num_bidders, v.num_items, v.demand, tuple(cfg.hidden), cfg.activation, v.low_array, v.high_array, rngs=rngs))
_register_learned("equivariantnet", EquivariantNetConfig, lambda cfg, v, rngs: EquivariantNet(
    v.num_bidders, v.num_items, v.demand, tuple(cfg.channels), cfg.activation, v.low, v.high, rngs=rngs))
_register_learned("regretformer", RegretFormerConfig, lambda cfg, v, rngs: RegretFormer(
    v.num_bidders, v.num_items, v.demand, cfg.dim, cfg.heads, cfg.blocks, cfg.hidden, cfg.activation,
    v.low, v.high, rngs=rngs))
_register_learned("rochetnet", RochetNetConfig, _rochetnet)


def attack_config(section: Optional[dict]) -> AttackConfig:
    return registry.from_section(AttackConfig, dict(section or {}), "attack")


@registry.register_evaluator("auction", section="attack", config_cls=AttackConfig)
def evaluate(mechanism_fn, problem: AuctionProblem, attack_section: Optional[dict]) -> dict:
    return evaluate_auction(mechanism_fn, problem, attack_config(attack_section))


def _register_baselines() -> None:
    from mechjax.auctions import baselines
    for name in baselines.BASELINES:
        def build(section: dict, problem: AuctionProblem, kind: str, _name=name):
            _require_auction(kind, _name)
            options = {k: v for k, v in section.items() if k != "name"}
            hints = typing.get_type_hints(baselines.BASELINES[_name])
            options = {k: convert(v, hints.get(k, typing.Any), f"mechanism.{k}") for k, v in options.items()}
            return baselines.build_baseline(_name, problem.valuations, **options)
        registry.CLASSICAL[name] = build


# --- hooks the front door calls for problem.kind=auction (it names no domain itself)

DSIC_MENUS = ("rochetnet",)  # truthful by construction: nothing to train against


@registry.register(registry.CHECKS, "auction")
def check_auction(exp, cfg: dict) -> None:
    """Before training or evaluating: the evaluation attacker must be stronger than training's, and a
    DSIC-by-construction menu must not train an adversary it cannot use."""
    name = (exp.cfg.get("mechanism") or {}).get("name")
    inner = exp.inner
    if name in DSIC_MENUS:
        kinds = ((exp.cfg.get("inner") or {}).get("kind"), (exp.cfg.get("constraint") or {}).get("kind"))
        legacy = kinds == ("adversary", "none") and getattr(inner, "steps", None) == 0  # runs made before inner=none
        if kinds != ("none", "none") and not legacy:
            raise ConfigError(
                f"mechanism.name={name} is DSIC by construction: train it with inner=none constraint=none "
                f"(got inner.kind={kinds[0]}, constraint.kind={kinds[1]}, which would train a "
                f"{getattr(inner, 'steps', '?')}-step adversary for nothing); or use +experiment=rochetnet_1x2")
    if hasattr(inner, "steps") and hasattr(inner, "restarts") and inner.steps > 0:
        attack_config(cfg.get("attack")).check_stronger_than(inner.steps, inner.restarts)


@registry.register(registry.SUMMARY_ROWS, "auction")
def summary_rows(summary: dict) -> list:
    """Console rows of an auction summary: revenue (and the optimum), regret under the strong attacker, IR."""
    rows = [("revenue", summary.get("revenue"))]
    if summary.get("optimal_revenue") is not None:
        rows.append(("optimal revenue (known)", summary["optimal_revenue"]))
    if summary.get("revenue_exceeds_optimum"):
        rows.append(("WARNING", f"revenue exceeds the optimum {summary.get('optimal_revenue')} by more "
                                "than regret explains: the attacker missed deviations"))
    rows += [("regret (strong attacker)", summary.get("regret")),
             ("regret per bidder", summary.get("regret_per_bidder")),
             ("regret max", summary.get("regret_max")),
             ("IR violation", summary.get("ir_violation"))]
    attack = summary.get("attack")
    if isinstance(attack, dict):
        starts = 1 + attack.get("restarts", 0) + attack.get("grid_init", 0)
        rows.append(("attacker", f"{attack.get('steps')} steps x {starts} starts, grid "
                                 f"{attack.get('grid') if attack.get('grid_used') else 'off'}"))
    return rows


@registry.register(registry.PLOTS, "auction")
def plots(run_dir: str, mechanism_fn, problem: AuctionProblem, history: list) -> list:
    """Learning curves with the known optimum as a line; the allocation map of a 1 x 2 auction."""
    from mechjax import plot
    paths = []
    if history and problem.optimal_revenue is not None:
        label = f"optimum {problem.optimal_revenue:.4g}"
        paths.append(plot.learning_curves(history, os.path.join(run_dir, "curves.png"),
                                          references={"revenue": (problem.optimal_revenue, label)}))
    if problem.num_agents == 1 and problem.num_items == 2:
        v = problem.valuations
        paths.append(plot.allocation_map(mechanism_fn, v.low[0], v.high[0],
                                         os.path.join(run_dir, "allocation_map.png")))
    return paths


_register_baselines()

from mechjax.auctions import tables as _tables  # noqa: E402,F401  (registers the auction results tables)
from mechjax.auctions import tables_large as _tables_large  # noqa: E402,F401  (table auction_large)
from mechjax.auctions.loaded import validated_mechanism  # noqa: E402

registry.LOADERS["auction"] = validated_mechanism  # mechjax.load: bids checked before the jitted mechanism
