"""Floating-point operations of a training step, and the share of a GPU's peak that a measured speed reaches.

``torch.utils.flop_counter.FlopCounterMode`` counts matrix multiplications, convolutions and attention (2 FLOPs
per multiply-add). Its formula for the weight gradient of a grouped convolution ignores the groups and counts
``groups`` times too much: for the depthwise convolutions of MiT and of the sep-ASPP head that is a factor of
several hundred; and it does not know the CPU's fused attention kernel, so attention counted zero on a CPU.
:func:`count_flops` corrects both.
"""
import torch
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count, sdpa_backward_flop_count, sdpa_flop_count

# Dense bfloat16 tensor-core peaks (TFLOP/s, without sparsity) from the vendors' data sheets, by a substring of
# torch.cuda.get_device_name(). H100 PCIe (756) and other parts are left out rather than guessed.
PEAK_BF16_TFLOPS = (
    ('H100 80GB HBM3', 989.0),  # H100 SXM
    ('H100 SXM', 989.0),
    ('H200', 989.0),
    ('A100', 312.0),
)


def _swap01(shape):
    return [shape[1], shape[0], *shape[2:]]


def conv_backward_flops(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                        _output_padding, groups, output_mask, out_shape=None, **kwargs) -> int:
    """FLOPs of ``aten.convolution_backward`` (input and weight gradients), correct for grouped convolutions.

    Args: the op's arguments as shapes (see torch's ``conv_backward_flop``); ``out_shape`` are the shapes of
    (grad_input, grad_weight, grad_bias).

    Returns:
        int: FLOPs; each gradient costs as much as the forward convolution.
    """
    flops = 0
    if output_mask[0]:
        flops += conv_flop_count(grad_out_shape, w_shape, out_shape[0], not transposed)
    if output_mask[1]:
        # The weight gradient as a convolution of the input by the output gradient; with groups, each output
        # channel meets only its group's input channels.
        first, second = (grad_out_shape, x_shape) if transposed else (x_shape, grad_out_shape)
        flops += conv_flop_count(_swap01(first), _swap01(second), _swap01(out_shape[1]), transposed=False) // groups
    return flops


def cpu_attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of the CPU's fused attention kernel: those of any ``scaled_dot_product_attention``."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def cpu_attention_backward_flops(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None,
                                 **kwargs) -> int:
    """FLOPs of the backward pass of the CPU's fused attention kernel."""
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


FORMULAS = {
    torch.ops.aten.convolution_backward: conv_backward_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_attention_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: cpu_attention_backward_flops,
}


def count_flops(fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` once and count its FLOPs.

    Returns:
        tuple[int, Any]: the FLOPs and ``fn``'s result.
    """
    with FlopCounterMode(display=False, custom_mapping=FORMULAS) as counter:
        result = fn(*args, **kwargs)
    return counter.get_total_flops(), result


def peak_tflops(device_name: str):
    """Dense bfloat16 peak of a GPU in TFLOP/s from its name, or None when it is not in the table.

    Args:
        device_name (str): e.g. ``torch.cuda.get_device_name()``, ``'NVIDIA H100 80GB HBM3'``.
    """
    for key, peak in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return peak
    return None
