"""Thin DVC stage entry points: read the config, call the core, write outputs."""
