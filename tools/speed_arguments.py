"""The speed switches of run_experiments.py and tools/benchmark.py, defined once (daseg.engine.speed applies
them). Built without importing the package, so that --help answers at once."""
COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune-no-cudagraphs')


def add_speed_arguments(p):
    """--amp, --channels-last, --compile, --compile-mode, --checkpoint-blocks, --tf32; returns their group."""
    speed = p.add_argument_group('speed (see daseg.engine.speed)')
    speed.add_argument('--amp', nargs='?', const='bf16', choices=['none', 'bf16', 'fp16'], default='none',
                       help='mixed precision: bf16 (also a bare --amp), or fp16 with dynamic loss scaling '
                            '(default: none)')
    speed.add_argument('--channels-last', action='store_true', help='NHWC weights and images')
    speed.add_argument('--compile', action='store_true',
                       help='torch.compile the training step (see daseg.engine.compile_step)')
    speed.add_argument('--compile-mode', choices=COMPILE_MODES,
                       help="torch.compile mode, implies --compile; 'reduce-overhead': CUDA graphs (GPU only)")
    speed.add_argument('--checkpoint-blocks', action='store_true',
                       help='activation checkpointing of the MiT blocks (less memory, slower)')
    speed.add_argument('--tf32', action='store_true', help='TF32 for the float32 matmuls and convolutions (CUDA)')
    return speed
