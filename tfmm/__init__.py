"""tfmm: multimodal (text, image, audio) Keras 3 models on TensorFlow 2.

Example:

```python
import tfmm
config = tfmm.load_config("examples/tri_modal.yaml")
model = tfmm.build_model(config)
```
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfmm import data, fusion, layers, models, pretraining, training  # noqa: E402,F401
from tfmm.config import Config, ConfigError, config_from_dict, load_config  # noqa: E402
from tfmm.models import build_model, compile_model  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Config", "ConfigError", "build_model", "compile_model", "config_from_dict",
           "load_config"]
