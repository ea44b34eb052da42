"""Models. Importing this package registers every model component."""
from . import classifiers, heads, layers, localizers, losses  # noqa: F401
