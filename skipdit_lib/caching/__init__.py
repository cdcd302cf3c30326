"""One harness for Skip-Cache and every baseline: `apply_cache`, `remove_cache`, `attached`.

Measuring the methods (cost and quality in one table) lives in `skipdit_lib.evaluation.methods`.
"""
from .adaptive_skip_cache import AdaptiveSkipCacheConfig
from .delta_dit import DELTA_DIT_PRESETS, DeltaDiTConfig
from .fewer_steps import FewerStepsConfig
from .first_block_cache import FirstBlockCacheConfig
from .fora import FORAConfig
from .hooks import CacheHook, CacheState, apply_cache, attached, get_cache, relative_l1, remove_cache, reset_cache
from .pab import PAB_PRESETS, PABConfig
from .skip_cache import SKIP_CACHE_PRESETS, SkipCacheConfig, skip_cache_preset
from .step_skip_cache import StepSkipCacheConfig
from .teacache import TeaCacheConfig, calibrate_teacache
from .tgate import TGATEConfig

__all__ = [
    "AdaptiveSkipCacheConfig", "DELTA_DIT_PRESETS", "DeltaDiTConfig", "FewerStepsConfig",
    "FirstBlockCacheConfig", "FORAConfig", "CacheHook", "CacheState", "apply_cache", "attached", "get_cache",
    "relative_l1", "remove_cache", "reset_cache", "PAB_PRESETS", "PABConfig", "SKIP_CACHE_PRESETS",
    "SkipCacheConfig", "skip_cache_preset", "StepSkipCacheConfig", "TeaCacheConfig", "calibrate_teacache",
    "TGATEConfig",
]
