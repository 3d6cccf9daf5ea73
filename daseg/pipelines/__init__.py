"""Multi-stage methods (union-set adaptation's stages, DDB's rounds) as one command: stages, skip-if-done, resume."""
from .ddb import DDBStages
from .registry import PIPELINES, build_stages
from .runner import Stage, run_pipeline
from .unionset import UnionSetStages

__all__ = ['PIPELINES', 'build_stages', 'DDBStages', 'Stage', 'run_pipeline', 'UnionSetStages']
