"""datagov: governed pretraining data, from ingest to registered model."""

__version__ = "0.1.0"
