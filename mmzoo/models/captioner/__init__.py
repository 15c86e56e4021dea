"""An attention image captioner (InceptionResNetV2 encoder, GRU decoder)."""

from mmzoo.models.captioner.decoder import AttentionGRUDecoder
from mmzoo.models.captioner.loss import masked_caption_loss
from mmzoo.models.captioner.model import Captioner
from mmzoo.models.captioner.tokenizer import CaptionTokenizer

__all__ = [
    "AttentionGRUDecoder",
    "CaptionTokenizer",
    "Captioner",
    "masked_caption_loss",
]
