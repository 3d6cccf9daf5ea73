# DAFormer ablation "conv1": a 1x1 conv + BN + ReLU fusion, i.e. the SegFormer decoder with 256 channels.
_base_ = ['./daformer_sepaspp_mitb5.py']
model = dict(
    decode_head=dict(
        decoder_params=dict(
            fusion_cfg=dict(
                _delete_=True,
                type='conv',
                kernel_size=1,
                act_cfg=dict(type='ReLU'),
                norm_cfg=dict(type='BN', requires_grad=True)))))
