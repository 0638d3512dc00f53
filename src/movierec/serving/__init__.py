"""What the service answers with: the model bundle, request-time movie filters, explanations."""
