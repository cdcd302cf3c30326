"""skipdit_lib: the library behind the Skip-DiT reproduction notebooks (see skipdit_lib/README.md)."""
from .profiles import PROFILES, get_profile, get_zoo_spec
from .results import ExperimentRun, atomic_save_torch, atomic_write_json, atomic_write_text, claim, judge, start_run

__all__ = [
    "PROFILES", "get_profile", "get_zoo_spec",
    "ExperimentRun", "atomic_save_torch", "atomic_write_json", "atomic_write_text", "claim", "judge", "start_run",
]
__version__ = "0.1.0"
