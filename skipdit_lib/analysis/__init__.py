"""Analyses behind the notebooks that study the models rather than sample from them."""
from .feature_smoothness import (
                                 FeatureChangeMeter,
                                 cosine_per_sample,
                                 deep_feature_similarity,
                                 filter_normalized_direction,
                                 filter_norms,
                                 grid_coordinates,
                                 middle_unit,
                                 noisy_inputs,
                                 perturbed,
                                 plot_change_heatmaps,
                                 plot_deep_similarity,
                                 plot_similarity_surfaces,
                                 predicted_noise,
                                 random_directions,
                                 record_unit_outputs,
                                 relative_change,
                                 similarity_drop,
                                 similarity_surface,
                                 step_timestep,
                                 trajectory_feature_changes,
)

__all__ = [
    "FeatureChangeMeter", "cosine_per_sample", "deep_feature_similarity", "filter_norms",
    "filter_normalized_direction", "grid_coordinates", "middle_unit", "noisy_inputs", "perturbed",
    "plot_change_heatmaps", "plot_deep_similarity", "plot_similarity_surfaces", "predicted_noise",
    "random_directions", "record_unit_outputs", "relative_change", "similarity_drop",
    "similarity_surface", "step_timestep", "trajectory_feature_changes",
]
