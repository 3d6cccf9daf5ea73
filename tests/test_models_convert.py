"""tools/convert_mit_weights.py and loading released (original-layout) segmentor checkpoints."""
import importlib.util
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from daseg.models.backbones.mit import MiT
from daseg.weights.mit_keys import convert_segmentor_state_dict, mmseg_to_original
from mmseg.registry import MODELS

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('convert_mit_weights', ROOT / 'tools' / 'convert_mit_weights.py')
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


@pytest.fixture
def b0_original(tmp_path):
    model = MiT(arch='b0')
    model.init_weights()
    path = tmp_path / 'mit_b0.pth'
    torch.save(mmseg_to_original(model.state_dict()), path)
    return model.state_dict(), path


def test_converts_and_detects_arch(b0_original, tmp_path, capsys):
    expected, src = b0_original
    dst = tmp_path / 'out' / 'mit_b0_mmseg.pth'
    assert tool.main([str(src), str(dst)]) == 0
    assert 'MiT-b0' in capsys.readouterr().out
    sd = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    assert list(sd) == list(expected) and all(torch.equal(sd[k], expected[k]) for k in sd)
    assert [p.name for p in dst.parent.iterdir()] == [dst.name]  # no temporary file left behind


def test_refuses_to_overwrite_without_force(b0_original, tmp_path, capsys):
    _, src = b0_original
    dst = tmp_path / 'dst.pth'
    dst.write_bytes(b'keep')
    assert tool.main([str(src), str(dst)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'dst.pth exists' in err and err.count('\n') == 1
    assert dst.read_bytes() == b'keep'
    assert tool.main([str(src), str(dst), '--force']) == 0
    assert 'state_dict' in torch.load(dst, map_location='cpu', weights_only=True)


def test_wrong_arch_and_missing_source(b0_original, tmp_path, capsys):
    _, src = b0_original
    assert tool.main([str(src), str(tmp_path / 'a.pth'), '--arch', 'b5']) == 2
    assert r'(32, 3, 7, 7) in the checkpoint, (64, 3, 7, 7)' in capsys.readouterr().err
    assert tool.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'b.pth')]) == 2
    assert 'missing.pth' in capsys.readouterr().err
    assert not (tmp_path / 'a.pth').exists() and not (tmp_path / 'b.pth').exists()


def test_released_uda_checkpoint_loads_into_segmentor(tmp_path):
    init_default_scope('mmseg')
    cfg = Config.fromfile(ROOT / 'configs' / '_base_' / 'models' / 'daformer_sepaspp_mitb0.py')
    cfg.model.backbone.pretrained = None
    model = MODELS.build(cfg.model)
    model.init_weights()
    # A DAFormer training checkpoint: original MiT names under model./ema_model./imnet_model. prefixes.
    original = convert_segmentor_state_dict(model.state_dict(), target='original')
    assert 'backbone.block1.0.attn.kv.weight' in original
    wrapper = {f'{p}.{k}': v for p in ('model', 'ema_model', 'imnet_model') for k, v in original.items()}
    path = tmp_path / 'iter_40000.pth'
    torch.save({'meta': {'iter': 40000}, 'state_dict': wrapper}, path)

    sd = convert_segmentor_state_dict(torch.load(path, map_location='cpu', weights_only=True)['state_dict'])
    student = {k[len('model.'):]: v for k, v in sd.items() if k.startswith('model.')}
    fresh = MODELS.build(cfg.model)
    fresh.load_state_dict(student, strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
