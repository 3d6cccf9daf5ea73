# DDB with DeepLab-v2 (ResNet-101 V1c, the 256-channel adapter head) at 512x512, batch 4 (DDB's 1x4 configs),
# 40k iterations per stage, two rounds. An experiment config sets the data of `stages` (teacher_data,
# student_data, prototype_data) and eval_targets.
_base_ = [
    '../default_runtime.py',
    '../models/deeplabv2red_r101v1c_adapter.py',
    '../schedules/adamw_ddb_poly10warm_40k.py',
    './datasets_512.py',
]
# A checkpoint every 4000 iterations, as DDB's configs evaluate.
default_hooks = dict(checkpoint=dict(interval=4000, max_keep_ckpts=2))
stages = dict(
    type='DDBStages',
    rounds=2,
    # The EMA teacher of both self-training paths (DDB's st.py): momentum 0.99, DACS's confidence weight at 0.968.
    teacher=dict(alpha=0.99, pseudo_threshold=0.968),
    # Colour jitter (s = 0.2, when U > 0.2) and blur (when U > 0.5) after bridging: post_pmd / post_blur.
    mixing=dict(color_jitter_strength=0.2, color_jitter_probability=0.2, blur=True),
    # CKD: prototype-rectified ensemble (softmax(-d) multiplied in, not renormalised), hard labels of weight 1.
    student=dict(proto_rectify=True, renormalise=False, soft_distill=False),
    prototypes=dict(epochs=4, min_pixels=10, cap=3000, batch_size=4),
    round2_lr=6e-6)
