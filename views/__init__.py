"""How rows appear on the wire: one module per spec tag. Views are given rows the service already
loaded (related rows joined or fetched in one query) and never query: they import only `views`,
`core` and the standard library (`tests/test_layers.py`), and a test fixture fails any test in which
a view runs SQL."""
