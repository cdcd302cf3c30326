"""Training: TrainConfig, train (AdamW, EMA, resume, torchrun DDP, freezing) and train_in_stages."""
from .checkpointing import latest_checkpoint, list_checkpoints, load_train_checkpoint
from .ema import create_ema, update_ema
from .trainer import (
                      STAGE_STARTS,
                      TrainConfig,
                      ema_decay_at,
                      gradient_norms,
                      is_skip_parameter,
                      learning_rate,
                      train,
                      train_in_stages,
                      trainable_parameters,
)

__all__ = ["TrainConfig", "STAGE_STARTS", "gradient_norms", "train", "train_in_stages", "trainable_parameters",
           "is_skip_parameter", "learning_rate", "ema_decay_at",
           "create_ema", "update_ema", "latest_checkpoint", "list_checkpoints", "load_train_checkpoint"]
