"""Gated training pipelines: specs, streaming data, autoencoders, runs."""
