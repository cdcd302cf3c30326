"""Evaluation: feature extractors, Frechet distances, scores, reference quality, cost, paper tables."""
