"""Scheduled quality audits: re-check the data behind registered models."""
