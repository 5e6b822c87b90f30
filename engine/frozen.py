"""Cheap construction for the immutable values an event makes by the dozen.

Every attempt builds several frozen dataclasses: a result per guard, a judgement per
candidate transition, the selection, the audit record, the case's next snapshot and
the outcome. Records stay immutable, but a frozen dataclass pays for it at birth: its
``__init__`` sets each field through ``object.__setattr__`` (its own ``__setattr__``
refuses), and it is reached through the class's call, which costs more again. For a
snapshot's fourteen fields that was about 2 µs, and together several per cent of an
in-memory event (``bench/engine_bench.py``).

``builder(cls)`` returns a function with the same parameters and defaults as ``cls``'s
``__init__`` that makes the same object at a fraction of the cost: it creates the
object as an instance of a private twin of ``cls`` (a subclass that adds no slots and
allows setting), so each field is one plain slot store, and then makes it an instance
of ``cls`` itself (``__class__`` assignment, allowed between classes of one layout).
What comes out is an ordinary ``cls``: frozen, and equal, hashed and printed like one
made by ``cls(...)``; ``dataclasses.replace`` and ``fields`` work on it. Only classes
whose ``__init__`` does nothing but set fields qualify (slots, frozen, no
``__post_init__``, every field an ``__init__`` parameter); ``builder`` refuses others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_PREFIX = "_yishi_builder_"
"""Names the generated function reads from its globals; a field never starts with it."""


def builder(cls: Callable[P, T]) -> Callable[P, T]:
    """A function that builds ``cls`` instances as ``cls(...)`` does, with less work.

    Args:
        cls: a frozen dataclass with ``slots=True``, no ``__post_init__`` and no
            ``init=False`` field.

    Raises:
        TypeError: when ``cls`` is not such a class.
    """
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    target: type[Any] = cls
    params = target.__dataclass_params__
    fields = dataclasses.fields(target)
    if (
        not params.frozen
        or "__slots__" not in target.__dict__
        or hasattr(target, "__post_init__")
        or any(not f.init or f.name.startswith(_PREFIX) for f in fields)
    ):
        raise TypeError(
            f"{target.__name__}: builder needs a frozen slots dataclass whose __init__ only "
            "sets its fields"
        )

    # The twin: same layout (no slots of its own), ordinary setting. Both methods are
    # given back: one C slot serves setting and deleting, and it is the plain one (which
    # lets each store below be a direct slot store) only when neither is Python code.
    twin = type(
        f"_Open{target.__name__}",
        (target,),
        {
            "__slots__": (),
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": target.__module__,
        },
    )
    namespace: dict[str, Any] = {
        f"{_PREFIX}new": object.__new__,
        f"{_PREFIX}set": object.__setattr__,
        f"{_PREFIX}twin": twin,
        f"{_PREFIX}cls": target,
        f"{_PREFIX}missing": dataclasses.MISSING,
    }
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            namespace[f"{_PREFIX}default_{f.name}"] = f.default
            parameter = f"{f.name}={_PREFIX}default_{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"{_PREFIX}factory_{f.name}"] = f.default_factory
            parameter = f"{f.name}={_PREFIX}missing"
            body.append(
                f"    if {f.name} is {_PREFIX}missing:\n"
                f"        {f.name} = {_PREFIX}factory_{f.name}()\n"
            )
        else:
            parameter = f.name
        (keyword if f.kw_only else positional).append(parameter)
    signature = ", ".join([*positional, *(["*", *keyword] if keyword else [])])
    made = f"{_PREFIX}made"
    source = (
        f"def build({signature}):\n"
        + "".join(body)
        + f"    {made} = {_PREFIX}new({_PREFIX}twin)\n"
        + "".join(f"    {made}.{f.name} = {f.name}\n" for f in fields)
        + f"    {_PREFIX}set({made}, '__class__', {_PREFIX}cls)\n"
        + f"    return {made}\n"
    )
    exec(source, namespace)  # noqa: S102 - the source is built above from field names only
    build: Callable[P, T] = namespace["build"]
    build.__name__ = build.__qualname__ = f"build_{target.__name__}"
    build.__doc__ = f"A new ``{target.__name__}``, as ``{target.__name__}(...)`` makes it."
    return build


__all__ = ["builder"]
