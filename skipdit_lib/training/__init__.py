"""Training: TrainConfig, train (AdamW, EMA, resume, torchrun DDP, freezing) and train_in_stages."""
from .checkpointing import latest_checkpoint, list_checkpoints, load_train_checkpoint
from .ema import create_ema, update_ema
from .trainer import (
                      TrainConfig,
                      ema_decay_at,
                      is_skip_parameter,
                      learning_rate,
                      train,
                      train_in_stages,
                      trainable_parameters,
)

__all__ = ["TrainConfig", "train", "train_in_stages", "trainable_parameters", "is_skip_parameter",
           "learning_rate", "ema_decay_at",
           "create_ema", "update_ema", "latest_checkpoint", "list_checkpoints", "load_train_checkpoint"]
