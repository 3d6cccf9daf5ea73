"""DDB (Deliberated Domain Bridging, Chen et al., NeurIPS 2022): the tensor maths of its class prototypes."""
from .prototypes import (FORMAT, PrototypeAccumulator, load_prototypes, prototype_weights, rectified_ensemble,
                         save_prototypes)

__all__ = ['FORMAT', 'PrototypeAccumulator', 'load_prototypes', 'prototype_weights', 'rectified_ensemble',
           'save_prototypes']
