"""Attach, detach and reset caching methods on any model of the library (diffusers-style hooks).

A caching method is a config dataclass plus a `CacheHook` subclass registered for it. The hook
never copies the model: it replaces `forward_units` or submodule `forward`s on the *instance*
(recorded, and undone by `remove_cache`), and it advances its `CacheState` by one step per call
of `model(x, t, y)` through a forward pre-hook / post-hook pair that reads `t[0].item()`.
The model references the hook as `model._skipdit_cache`; nothing else is left on the model.
Samplers call `model.begin_sampling()` at the start of every run; the hook overrides it on the
instance with its `reset`, so the diffusion code never needs to know about caches. Helpers several
caches share (`relative_l1`, `attached`) live here, below every method.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
from torch import nn

from ..models.layers import run_units  # noqa: F401  (the unit loop the caches reuse)

log = logging.getLogger(__name__)

CACHE_ATTR = "_skipdit_cache"
_MISSING = object()
_HOOK_CLASSES: dict[type, type["CacheHook"]] = {}


def register_cache_method(config_class: type) -> Callable[[type["CacheHook"]], type["CacheHook"]]:
    """Class decorator: make `apply_cache(model, config_class(...))` build this hook."""
    def decorator(hook_class: type[CacheHook]) -> type[CacheHook]:
        _HOOK_CLASSES[config_class] = hook_class
        return hook_class
    return decorator


class CacheState:
    """Per-sampling-run state of a cache: call index, current timestep and a per-call log."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything cached; the next call is the first step of a new sampling run."""
        self.step = 0          # index of the current call since the last reset
        self.t: float | None = None
        self.log: list[dict[str, Any]] = []  # one record per call: {"t", "full", "units", ...}

    def record(self, **entry: Any) -> None:
        """Append what this call did (read by tests and by `compare_methods`)."""
        self.log.append({"step": self.step, "t": self.t, **entry})

    @property
    def full_fraction(self) -> float:
        """Fraction of logged calls that ran the whole network."""
        return sum(bool(e.get("full", True)) for e in self.log) / max(len(self.log), 1)


class CacheHook:
    """Base hook: installs/uninstalls instance-level patches and advances the state per call."""

    state_class: type[CacheState] = CacheState
    # Methods taking the cache decisions: run eagerly (torch.compiler.disable) so that under
    # torch.compile the decision stays plain Python outside every compiled region.
    eager_methods: tuple[str, ...] = ("_pre_call", "_post_call")

    def __init__(self, model: nn.Module, config: Any) -> None:
        self.model = model
        self.config = config
        self.state = self.state_class()
        self._patches: list[tuple[Any, str, Any]] = []
        self._handles: list[Any] = []

    # -- what subclasses override -------------------------------------------------------------
    def install(self) -> None:
        """Patch the model (subclasses call `self.patch`)."""

    def begin_step(self, t: float) -> None:
        """Called before every model call with the original timestep."""

    def end_step(self, t: float) -> None:
        """Called after every model call (the output is computed)."""

    # -- machinery ------------------------------------------------------------------------------
    def patch(self, obj: Any, name: str, new: Any) -> None:
        """Set `obj.name = new` on the instance, remembering what was there for `uninstall`."""
        self._patches.append((obj, name, obj.__dict__.get(name, _MISSING)))
        setattr(obj, name, new)

    def uninstall(self) -> None:
        """Undo every patch in reverse order and drop the forward hooks."""
        for handle in self._handles:
            handle.remove()
        for obj, name, old in reversed(self._patches):
            delattr(obj, name)
            if old is not _MISSING:
                setattr(obj, name, old)
        self._patches.clear()
        self._handles.clear()

    def attach(self) -> None:
        """Install the patches, the per-run reset and the per-call step counter on the model."""
        for name in self.eager_methods:  # wrapped here, not at import: importing dynamo is slow
            setattr(self, name, torch.compiler.disable(getattr(self, name)))
        self.install()
        self.patch(self.model, "begin_sampling", self.reset)  # the samplers' neutral call
        self._handles.append(self.model.register_forward_pre_hook(self._pre_call, with_kwargs=True))
        self._handles.append(self.model.register_forward_hook(self._post_call))

    def _pre_call(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """Read the timestep of this call (plain Python, outside any compiled region)."""
        self.state.t = read_timestep(args, kwargs)
        self.begin_step(self.state.t)

    def _post_call(self, module: nn.Module, args: tuple, output: Any) -> None:
        """Advance the per-call step counter after the output is computed."""
        self.end_step(self.state.t)
        self.state.step += 1

    def reset(self) -> None:
        """Reset the cache state (samplers call it through `model.begin_sampling()`)."""
        self.state.reset()

    def remove(self) -> None:
        """Detach this hook from its model (same as `remove_cache(model)`)."""
        remove_cache(self.model)


class ModuleReuseState(CacheState):
    """Outputs of wrapped submodules kept for reuse, and how many were computed/reused this call."""

    def reset(self) -> None:
        super().reset()
        self.outputs: dict[str, Any] = {}
        self.computed = 0
        self.reused = 0


class ModuleReuseHook(CacheHook):
    """Base of per-module caches (FORA, PAB, T-GATE): wrapped submodules return a stored output
    instead of computing whenever `compute_now(kind)` says no."""

    state_class = ModuleReuseState
    eager_methods = CacheHook.eager_methods + ("compute_now",)

    def compute_now(self, kind: str) -> bool:
        """Whether a module of this kind computes on the current call (subclasses decide)."""
        return True

    def to_cache(self, kind: str, output: torch.Tensor) -> torch.Tensor:
        """What to store for later reuse (T-GATE averages the CFG halves)."""
        return output

    def wrap(self, module: nn.Module, key: str, kind: str, method: str = "forward") -> None:
        """Patch `module.<method>` (default its forward) on the instance with the compute-or-reuse rule."""
        original, state = getattr(module, method), self.state

        def forward(*args: Any, **kwargs: Any) -> Any:
            if key in state.outputs and not self.compute_now(kind):
                state.reused += 1
                return state.outputs[key]
            out = original(*args, **kwargs)
            state.outputs[key] = self.to_cache(kind, out)
            state.computed += 1
            return out

        self.patch(module, method, forward)

    def begin_step(self, t: float) -> None:
        self.state.computed = self.state.reused = 0

    def end_step(self, t: float) -> None:
        self.state.record(full=self.state.reused == 0, computed=self.state.computed, reused=self.state.reused)


def read_timestep(args: tuple, kwargs: dict) -> float:
    """The original 0..999 timestep of a `model(x, t, y)` call: `t[0].item()`."""
    t = args[1] if len(args) > 1 else kwargs.get("t")
    if not torch.is_tensor(t) or t.numel() == 0:
        raise TypeError("a cached model must be called as model(x, t, y) with t a (N,) tensor of timesteps")
    return t.reshape(-1)[0].item()


def apply_cache(model: nn.Module, config: Any) -> CacheHook:
    """Attach the caching method described by `config` to `model`; returns the hook (the handle)."""
    if getattr(model, CACHE_ATTR, None) is not None:
        raise ValueError(f"{type(model).__name__} already has a cache "
                         f"({type(model._skipdit_cache.config).__name__}); call remove_cache(model) first")
    hook_class = _HOOK_CLASSES.get(type(config))
    if hook_class is None:
        known = ", ".join(sorted(c.__name__ for c in _HOOK_CLASSES))
        raise TypeError(f"{type(config).__name__} is not a cache config; use one of: {known}")
    hook = hook_class(model, config)
    try:
        hook.attach()
    except Exception:
        hook.uninstall()  # a config the model cannot take leaves the model untouched
        raise
    setattr(model, CACHE_ATTR, hook)
    return hook


def remove_cache(model: nn.Module) -> None:
    """Detach the cache of `model`, restoring every patched method; a no-op without a cache."""
    hook = model.__dict__.get(CACHE_ATTR)
    if hook is None:
        return
    hook.uninstall()
    delattr(model, CACHE_ATTR)


def reset_cache(model: nn.Module) -> None:
    """Reset the cache state of `model` if one is attached (what `model.begin_sampling()` does)."""
    hook = model.__dict__.get(CACHE_ATTR)
    if hook is not None:
        hook.reset()


def get_cache(model: nn.Module) -> CacheHook | None:
    """The hook attached to `model`, or None."""
    return model.__dict__.get(CACHE_ATTR)


@contextmanager
def attached(model: nn.Module, config: Any) -> Iterator[Any]:
    """`config` attached to `model` for the block, yielding the hook; None (uncached) and configs
    that change the sampler rather than the model (`changes_sampler = True`) attach nothing."""
    if config is None or getattr(config, "changes_sampler", False):
        yield None
        return
    hook = apply_cache(model, config)
    try:
        yield hook
    finally:
        remove_cache(model)


def relative_l1(a: torch.Tensor, b: torch.Tensor) -> float:
    """mean|a - b| / mean|b|: the drift measure of TeaCache, First-Block-Cache and the adaptive Skip-Cache."""
    return float((a - b).abs().mean() / b.abs().mean().clamp_min(1e-12))


def require_units(model: nn.Module, method: str) -> None:
    """Raise TypeError when `model` lacks the unit hook points of the caching contract."""
    missing = [a for a in ("embed", "run_unit", "head", "num_units", "forward_units",
                           "skip_map") if not hasattr(model, a)]
    if missing:
        raise TypeError(f"{method} needs a model of skipdit_lib.models (missing {missing}); "
                        "see skipdit_lib/README.md, 'The contract between models and the caching harness'")
