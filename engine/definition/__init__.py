"""Procedure definitions: strict YAML, schema check, immutable model, lint, compile.

This layer never imports the runtime or ``transitions``.
"""
