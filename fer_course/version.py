"""The course library's version, in a module of its own so that any layer may read it
without importing the package's front door.

>>> __version__.count(".")
2
"""

__version__ = "0.1.0"
