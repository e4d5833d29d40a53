"""`tfmm pretrain`: contrastive (CLIP-style) and masked-LM pretraining of the encoders,
whose weights then initialise `tfmm train` (`training.init_from: RUN_DIR`).

Example:

```python
config = tfmm.load_config("config.yaml")
tfmm.pretraining.pretrain(config, "runs/pre", objective="contrastive")
config = tfmm.load_config("config.yaml", overrides=["training.init_from=runs/pre"])
tfmm.training.train(config, "runs/fine")
```
"""

from tfmm.pretraining.contrastive import (
    ContrastivePretrainer,
    build_pretrainer,
    info_nce,
    retrieval_recall,
)
from tfmm.pretraining.loop import OBJECTIVES, pretrain
from tfmm.training.init_from import (
    initialise_from,
    load_encoder_weights,
    read_vocabularies,
    save_encoder_weights,
)

__all__ = [
    "OBJECTIVES",
    "ContrastivePretrainer",
    "build_pretrainer",
    "info_nce",
    "initialise_from",
    "load_encoder_weights",
    "pretrain",
    "read_vocabularies",
    "retrieval_recall",
    "save_encoder_weights",
]
