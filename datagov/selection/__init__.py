"""`datagov select`: pretraining data chosen to match a target (importance resampling)."""
