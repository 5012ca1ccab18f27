"""Evaluation: feature extractors and sample-quality metrics."""
