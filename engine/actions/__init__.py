"""Named, deterministic actions that transitions run (the action registry)."""

from engine.actions.registry import ActionContext, ActionSpec, Registry, default_registry

__all__ = ["ActionContext", "ActionSpec", "Registry", "default_registry"]
