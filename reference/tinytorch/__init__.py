"""tinytorch: a PyTorch-like framework built one module at a time.

The public API is re-exported here (`from tinytorch import Tensor`). Importing the package must
work on the untouched stubs and on any partially completed submission, so nothing here runs
student code at import time beyond defining classes and functions.
"""
# One line per module, in curriculum order.
from tinytorch.core.tensor import Tensor  # noqa: F401  (module 01)
from tinytorch.core.activations import Activation, GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh  # noqa: F401  (module 02)
from tinytorch.core.layers import Dropout, Linear, Module, Parameter, Sequential  # noqa: F401  (module 03)
from tinytorch.core.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss  # noqa: F401  (module 04)
from tinytorch.core.dataloader import DataLoader, Dataset, TensorDataset  # noqa: F401  (module 05)
from tinytorch.core.autograd import Function, enable_autograd, is_autograd_enabled, no_grad  # noqa: F401  (module 06)
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer  # noqa: F401  (module 07)
from tinytorch.core.training import CosineSchedule, Trainer, clip_grad_norm, load_checkpoint, save_checkpoint  # noqa: F401  (module 08)
from tinytorch.core.spatial import AvgPool2d, Conv2d, Flatten, MaxPool2d  # noqa: F401  (module 09)
from tinytorch.core.tokenization import SPECIAL_TOKENS, BPETokenizer, CharTokenizer, Tokenizer  # noqa: F401  (module 10)
from tinytorch.core.embeddings import Embedding, LearnedPositionalEmbedding, SinusoidalPositionalEncoding  # noqa: F401  (module 11)
from tinytorch.core.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention  # noqa: F401  (module 12)
from tinytorch.core.transformer import GPT, FeedForward, LayerNorm, TransformerBlock  # noqa: F401  (module 13)
