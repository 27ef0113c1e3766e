"""The ``tenure`` command line: thin commands over the library."""
