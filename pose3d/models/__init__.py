"""2D-to-3D lifting networks with one I/O convention: (B, T, J_in, 2) -> (B, T_out, J_out, 3).

Every model exposes ``receptive_field`` (T_out = T - receptive_field + 1 over whole sequences),
``pad``/``causal_shift`` for padding sequences, and ``set_bn_momentum``; build them by name with
``build_model``.
"""
from .fc import MaxNormLinear, SimpleBaseline, srnet_fc
from .registry import (MODELS, build_model, count_parameters, evaluation_form, has_training_form, hyperparameter_names,
                       model_params, model_skeleton, training_form)
from .srnet import GROUPS, SRNet, SplitRecombineConv
from .videopose import TemporalConvNet, VideoPose3D, receptive_field

__all__ = [
    "GROUPS", "MODELS", "MaxNormLinear", "SRNet", "SimpleBaseline", "SplitRecombineConv", "TemporalConvNet",
    "VideoPose3D", "build_model", "count_parameters", "evaluation_form", "has_training_form", "hyperparameter_names",
    "model_params", "model_skeleton", "receptive_field",
    "srnet_fc", "training_form",
]
