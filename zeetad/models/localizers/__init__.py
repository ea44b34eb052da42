
from .dual_localizer import DualLocalizer  # noqa: F401
from .deformable_transformer import DeformableTransformer1D  # noqa: F401
