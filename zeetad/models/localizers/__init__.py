
from .dual_localizer import DualLocalizer  # noqa: F401
