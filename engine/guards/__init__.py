"""Guards: CEL expressions and built-in governance checks in exact arithmetic.

This package is a leaf: it knows numbers, expressions and words, not procedures.
The definition layer compiles a procedure's guards with it; the runtime calls them.
"""
