"""An example plugin for l2ral: a query strategy from another package, registered through the entry point
`l2ral.strategies` (pyproject.toml). Nothing is imported here: l2ral imports `strategies` when its strategy
registry is first consulted."""
