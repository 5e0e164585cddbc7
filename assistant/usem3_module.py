"""Where saved models find the bundled USE's sentence-transformers module (their modules.json names this path)."""

from .encoders.usem3_module import USEMultilingual

__all__ = ["USEMultilingual"]
