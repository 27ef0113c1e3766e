"""The version of tenure, where every layer can read it without importing the
package's public names (which would pull in the layers above)."""

__version__ = "0.1.0"
