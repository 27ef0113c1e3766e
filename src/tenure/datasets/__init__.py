"""Demo data: a seeded multi-country online shop with known true parameters."""

from tenure.datasets.demo import DemoFiles, generate_demo

__all__ = ["DemoFiles", "generate_demo"]
