"""Goals and benchmarks: where the business stands against its own targets
and against its industry."""
