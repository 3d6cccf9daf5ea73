"""The options of tools/infer.py and tools/export.py that choose a model and its inference mode.

Built without importing the package, so that --help answers at once. The choices are those of
daseg.weights.EVALUABLE and daseg.apis.inference.MODES, which check them again.
"""
SUB_MODELS = ('student', 'teacher', 'region_teacher', 'class_teacher')
MODES = ('whole', 'slide')


def add_model_arguments(p):
    """CONFIG, CHECKPOINT, --out, and the sub-model, inference mode, window and config overrides."""
    p.add_argument('config', metavar='CONFIG_OR_WORK_DIR', help='a config .py, or a training work dir')
    p.add_argument('checkpoint', help='a UDA, merged, plain or released checkpoint')
    p.add_argument('--out', required=True, help='output folder, new or empty')
    p.add_argument('--which', '--eval-model', dest='which', choices=SUB_MODELS, default='student',
                   help='sub-model of a UDA checkpoint')
    p.add_argument('--mode', choices=MODES, help="inference mode (default: the config's model.test_cfg.mode)")
    p.add_argument('--crop-size', nargs=2, type=int, metavar=('H', 'W'), help='sliding window size')
    p.add_argument('--stride', nargs=2, type=int, metavar=('H', 'W'),
                   help="sliding window stride (default: the config's, or half the window)")
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE', help='override config entries')
