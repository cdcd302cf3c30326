"""Model families (DiT, Latte, TextDiT), named configs and checkpoint loading."""
from .checkpoints import load_checkpoint, load_model, save_checkpoint
from .configs import FAMILIES, MODEL_CONFIGS, build_from_config, create_model, model_config
from .dit import DiT
from .latte import Latte
from .layers import UnitContext
from .text_dit import TextDiT

__all__ = ["DiT", "Latte", "TextDiT", "UnitContext", "MODEL_CONFIGS", "FAMILIES", "create_model",
           "model_config", "build_from_config", "save_checkpoint", "load_checkpoint", "load_model"]
