"""test.sh's command through the package, as tools/test.py runs it: the config loaded, then ``run_test``."""
from daseg.cli import find_config, load_config, segmentor_config
from daseg.evaluation import run_test


def run_evaluation(config_or_work_dir, *checkpoints, cfg_options=(), **options):
    """``./test.sh CONFIG_OR_WORK_DIR CHECKPOINT... --cfg-options ...`` with the other options as keywords of
    :func:`daseg.evaluation.run_test`; returns the results and the report folder."""
    config, work_dir = find_config(config_or_work_dir)
    cfg = load_config(config, list(cfg_options))
    return run_test(cfg, segmentor_config(cfg), config_or_work_dir, work_dir, checkpoints, **options)
