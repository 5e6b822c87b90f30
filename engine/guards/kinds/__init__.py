"""The guard kinds, one module each: schema branch, model, builder, compiler and check.

``engine.guards.registry`` lists them in the order the procedure schema offers them.
"""
