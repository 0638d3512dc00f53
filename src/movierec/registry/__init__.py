"""MLflow tracking and model registry: register, promote, the champion alias, lineage, reproduce."""
