"""cnnlab: convolutional neural networks, exactly and fast, for teaching.

The top level re-exports the names a lecture or an assignment needs. Submodules are
imported lazily, so ``import cnnlab`` stays quick and the Numba kernels compile (or
load from the cache) only when a layer is first used.

Modules
-------
shapes      output sizes of convolution and pooling (pure integer arithmetic)
params      parameter, activation and multiply-accumulate counts
receptive   receptive fields, effective stride and padding of layer stacks
models      declarative network specs, the model zoo and :func:`summary`
layers      NumPy forward/backward of conv, pooling, dense, ReLU, softmax loss
naive       the readable loop versions a lecture shows
gradcheck   finite-difference gradient checking
precompile  ``warmup()``: compile or load every Numba kernel ahead of use
net         a small trainable network, SGD, saliency maps, fine-tuning
datasets    scikit-learn's digits as NCHW images, few-shot transfer splits
examples    the lecture notes' worked examples as data
widgets     the notebooks' sliders and steppers (their logic is plain Python)
plotting    the drawings behind the widgets and notebooks
"""

from __future__ import annotations

from cnnlab._lazy import lazy_exports

__version__ = "0.1.0"

# name -> submodule that defines it. Keep alphabetical within each module.
_EXPORTS: dict[str, str] = {}


def _export(module: str, *names: str) -> None:
    for name in names:
        _EXPORTS[name] = module


_export(
    "shapes",
    "conv_output_size",
    "conv_transpose_output_size",
    "explain_conv_output_size",
    "fits",
    "pool_output_size",
    "resolve_padding",
)
_export(
    "params",
    "batchnorm_params",
    "conv2d_macs",
    "conv2d_params",
    "dense_macs",
    "dense_params",
    "depthwise_separable_macs",
    "depthwise_separable_params",
)
_export("receptive", "input_region", "receptive_field", "receptive_fields")
_export("models", "summary")
_export(
    "layers",
    "AvgPool2dCache",
    "Conv2dCache",
    "DenseCache",
    "FlattenCache",
    "MaxPool2dCache",
    "ReluCache",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "conv2d_backward",
    "conv2d_forward",
    "dense_backward",
    "dense_forward",
    "flatten",
    "flatten_backward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "relu_backward",
    "relu_forward",
    "softmax_cross_entropy",
)
_export("gradcheck", "check_layer", "numerical_gradient", "rel_error")
_export("precompile", "warmup")
_export("datasets", "load_digits", "train_test_split", "transfer_split")
_export(
    "net",
    "SGD",
    "Sequential",
    "evaluate",
    "fit",
    "predict",
    "pretrained",
    "saliency_map",
    "scratch_vs_transfer",
    "transfer_model",
)

_SUBMODULES = (
    "datasets",
    "examples",
    "gradcheck",
    "layers",
    "models",
    "naive",
    "net",
    "params",
    "plotting",
    "precompile",
    "receptive",
    "shapes",
    "widgets",
)

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
