"""Checkpoint and weights files at the bottom of the package: reading (weights only), atomic writing, key tables
per model and per released format, and the sub-models of UDA checkpoints. Imports nothing from the models."""
from .io import find_latest_checkpoint, load_checkpoint_file, read_weights_file, save_checkpoint_atomic
from .keys import check_fits, strip_module_prefix, unwrap_state_dict
from .released import convert_legacy_keys, convert_released_state_dict
from .submodels import (BY_ATTR, BY_NAME, EVALUABLE, SUB_MODELS, SubModel, canonical_key, canonical_state_dict,
                        load_segmentor_weights, segmentor_state_dict, sub_model_of, sub_models)

__all__ = ['find_latest_checkpoint', 'load_checkpoint_file', 'read_weights_file', 'save_checkpoint_atomic',
           'check_fits', 'strip_module_prefix', 'unwrap_state_dict', 'convert_legacy_keys',
           'convert_released_state_dict', 'BY_ATTR', 'BY_NAME', 'EVALUABLE', 'SUB_MODELS', 'SubModel',
           'canonical_key', 'canonical_state_dict', 'load_segmentor_weights', 'segmentor_state_dict', 'sub_model_of',
           'sub_models']
