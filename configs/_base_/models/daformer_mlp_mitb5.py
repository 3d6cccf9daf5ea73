# DAFormer ablation: the concatenated embedding is fused by a single per-pixel linear layer (no context, no
# norm, no activation).
_base_ = ['./daformer_sepaspp_mitb5.py']
model = dict(
    decode_head=dict(
        decoder_params=dict(fusion_cfg=dict(_delete_=True, type='mlp'))))
