"""tools/convert_backbone_weights.py: converts a release file once, refuses to overwrite, one line on bad input."""
import pytest
import torch

from daseg.models.backbones import CheckedMAE, CheckedSwinTransformer
from daseg.weights.convnext_keys import convnext_state_dict
from entry_points import load_script
from test_convnext import SMALL as SMALL_CONVNEXT
from test_convnext import official_file, random_weights
from test_swin import IMAGE, SMALL, official_swin_file
from test_vit_encoders import SMALL as SMALL_VIT
from test_vit_encoders import official_vit_file

tool = load_script('tools/convert_backbone_weights')


def exit_code(argv):
    """The tool's exit code: 0, or 2 on a user mistake (run_main exits)."""
    try:
        return tool.main(argv)
    except SystemExit as exc:
        return exc.code


def outputs(model, image):
    model.init_weights()
    model.eval()
    with torch.no_grad():
        return model(image)


def test_converted_swin_file_computes_what_the_release_file_computes(tmp_path, capsys):
    src, dst = tmp_path / 'swin_release.pth', tmp_path / 'out' / 'swin.pth'
    torch.save({'model': official_swin_file()}, src)
    assert exit_code([str(src), str(dst), '--family', 'swin']) == 0
    assert capsys.readouterr().out.strip() == f'wrote 119 swin tensors to {dst}'
    written = torch.load(dst, weights_only=True)
    assert list(written) == ['state_dict'] and not any(k.startswith('head.') for k in written['state_dict'])
    image = torch.randn(1, 3, *IMAGE)
    for ours, release in zip(outputs(CheckedSwinTransformer(**SMALL, pretrained=str(dst)), image),
                             outputs(CheckedSwinTransformer(**SMALL, pretrained=str(src)), image)):
        assert torch.equal(ours, release)


def test_converted_mae_file_loads(tmp_path):
    src, dst = tmp_path / 'mae_pretrain.pth', tmp_path / 'mae.pth'
    torch.save({'model': official_vit_file('mae')}, src)
    assert exit_code([str(src), str(dst), '--family', 'mae']) == 0
    image = torch.randn(1, 3, 32, 32)
    for ours, release in zip(outputs(CheckedMAE(**SMALL_VIT, pretrained=str(dst)), image),
                             outputs(CheckedMAE(**SMALL_VIT, pretrained=str(src)), image)):
        assert torch.equal(ours, release)


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    src, dst = tmp_path / 'beit.pth', tmp_path / 'beit_converted.pth'
    torch.save({'model': official_vit_file('beit')}, src)
    dst.write_bytes(b'keep me')
    assert exit_code([str(src), str(dst), '--family', 'beit']) == 2
    err = capsys.readouterr().err
    assert err == f'error: {dst} exists; pass --force to overwrite it\n'
    assert dst.read_bytes() == b'keep me'
    assert exit_code([str(src), str(dst), '--family', 'beit', '--force']) == 0
    assert 'layers.0.attn.q_bias' in torch.load(dst, weights_only=True)['state_dict']


@pytest.mark.parametrize('content, family, message', [
    (b'<html>404</html>', 'swin', 'is not a PyTorch checkpoint'),
    ('beit', 'swin', 'holds BEiT weights (--family beit), not Swin weights'),
    ('swin', 'mae', 'holds Swin weights (--family swin), not MAE / ViT weights'),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, content, family, message):
    src = tmp_path / 'in.pth'
    if isinstance(content, bytes):
        src.write_bytes(content)
    else:
        torch.save(official_vit_file('beit') if content == 'beit' else official_swin_file(), src)
    assert exit_code([str(src), str(tmp_path / 'out.pth'), '--family', family]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1 and message in err
    assert not (tmp_path / 'out.pth').exists()


def test_convnext_file_converts_through_its_key_table(tmp_path):
    """An official ConvNeXt file: the tool writes what the ConvNeXt key table gives, tensor for tensor."""
    w = random_weights(**SMALL_CONVNEXT)
    src, dst = tmp_path / 'convnext.pth', tmp_path / 'convnext_out.pth'
    torch.save(official_file(w), src)
    assert exit_code([str(src), str(dst), '--family', 'convnext']) == 0
    written = torch.load(dst, weights_only=True)['state_dict']
    expected = convnext_state_dict(official_file(w), 'f.pth')
    assert written.keys() == expected.keys() and all(torch.equal(written[k], v) for k, v in expected.items())
