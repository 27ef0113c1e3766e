"""The engine: per-customer summaries, period metrics and cohorts.

Written once as Ibis expressions, so the same code runs on DuckDB (the
embedded default) and on Spark or a warehouse. Only aggregates cross into
Python, never the transaction log. Data flows one way: a :class:`Source`
gives the tables, :class:`Definitions` say how to read them, and each
module turns them into a result.
"""
