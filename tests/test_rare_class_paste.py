"""Rare-class copy-paste: the dataset draws distinct classes and crops that show them (seeded, after the item's
source and target), the wrapper preprocesses the crops like the source, and the paste puts exactly the drawn
classes' pixels, their labels and weight 1 onto the ClassMix batch before its colour jitter and blur. DACS with
the new options off (paste, mix loss weight) is the default DACS bit for bit, crops in the batch or not."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import daseg  # noqa: F401  (registers the datasets and the paste)
from daseg.datasets import UDADataset
from daseg.datasets.convert.class_stats import write_class_stats
from daseg.errors import UserError
from daseg.models.uda.components import self_training, teacher_pseudo_labels
from speed_models import batch, build_dacs, segmentor_cfg, sgd, step

# Tiny models: one thread is faster, and leaves the other cores to the rest of the suite.
pytestmark = pytest.mark.usefixtures('one_thread')
SIZE = (32, 32)


class Crops:
    """A source dataset whose sample i is an image filled with i and a label with one block per class of
    ``blocks[i]`` (class -> (rows, columns)), the rest ignored."""

    def __init__(self, root, blocks):
        self.data_root = str(root)
        self.blocks = blocks
        self.metainfo = dict(classes=tuple('abcdefgh'), palette=[[0, 0, 0]] * 8)

    def __len__(self):
        return len(self.blocks)

    def get_data_info(self, i):
        return dict(seg_map_path=osp.join(self.data_root, f'labels/{i}.png'))

    def __getitem__(self, i):
        label = torch.full((1, 8, 8), 255, dtype=torch.long)
        for c, (rows, cols) in self.blocks[i].items():
            label[0, rows, cols] = c
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        # A random value per load, as a random crop or flip would draw.
        return dict(inputs=torch.full((3, 8, 8), i) + np.random.randint(1000) * 10, data_samples=sample)


def crop_dataset(root):
    # Class 3 in files 0 and 1, class 5 in file 1 only, class 7 in file 2 only; class 4 too small to count.
    blocks = [{3: (slice(0, 4), slice(0, 8))},
              {3: (slice(0, 2), slice(0, 8)), 5: (slice(4, 8), slice(0, 8))},
              {7: (slice(2, 8), slice(2, 8)), 4: (slice(0, 1), slice(0, 2))}]
    source = Crops(root, blocks)
    write_class_stats(str(root), [
        {'file': f'labels/{i}.png', **{str(c): len(range(8)[r]) * len(range(8)[k]) for c, (r, k) in b.items()}}
        for i, b in enumerate(blocks)])
    return source


def test_items_carry_crops_of_distinct_drawn_classes_reproducibly(tmp_path):
    source = crop_dataset(tmp_path)
    plain = UDADataset(source, source)
    ds = UDADataset(source, source, paste=dict(classes=[3, 4, 5, 7], num_classes=2, min_pixels=10))
    assert ds.paste.classes == [3, 5, 7]  # class 4 has no file with more than 10 pixels of it
    for dataset in (plain, ds):
        dataset.set_seed(4)
    drawn = set()
    for position in range(30):
        item = ds[position]
        crops = list(zip(item['paste_inputs'], item['paste_data_samples']))
        classes = [s.paste_class for _, s in crops]
        assert len(classes) == 2 and len(set(classes)) == 2 and set(classes) <= {3, 5, 7}
        for img, sample in crops:
            # The crop is of a file holding its class, and shows it (16 to 36 pixels > 10 * 0.5).
            file = int(img[0, 0, 0]) % 10
            assert sample.paste_class in source.blocks[file]
            assert (sample.gt_sem_seg.data == sample.paste_class).sum() > 5
        drawn.update(classes)
        # The source and the target of the item are those of the same position without paste.
        other = plain[position]
        assert torch.equal(item['inputs'], other['inputs']) and torch.equal(item['target_inputs'],
                                                                            other['target_inputs'])
        # A function of (seed, position) alone.
        again = ds[position]
        assert [torch.equal(a, b) for a, b in zip(again['paste_inputs'], item['paste_inputs'])] == [True, True]
    assert drawn == {3, 5, 7}
    # pseudo_collate gives one list per crop slot, each with one crop of every item.
    collated = pseudo_collate([ds[0], ds[1], ds[2]])
    assert len(collated['paste_inputs']) == 2 and all(len(slot) == 3 for slot in collated['paste_inputs'])


def test_paste_errors_name_the_option(tmp_path):
    (tmp_path / 'a').mkdir()
    source = crop_dataset(tmp_path / 'a')
    with pytest.raises(UserError, match='unknown paste option.*classes_to_paste'):
        UDADataset(source, source, paste=dict(classes_to_paste=[3]))
    with pytest.raises(UserError, match=r'paste.num_classes must be between 1 and the number of paste.classes \(1\)'):
        UDADataset(source, source, paste=dict(classes=[3], num_classes=2))
    with pytest.raises(UserError, match=r'no file of Crops has more than min_pixels=10 pixels of any of the '
                                        r'classes \[4\]'):
        UDADataset(source, source, paste=dict(classes=[4], num_classes=1, min_pixels=10))
    (tmp_path / 'b').mkdir()
    no_stats = Crops(tmp_path / 'b', source.blocks)
    with pytest.raises(UserError, match=r"rare-class paste: '.*b/sample_class_stats.json' does not exist; write it "
                                        r'with `tools/convert_datasets/.*` \(or turn paste off\)'):
        UDADataset(no_stats, no_stats, paste=dict())


NUM_SLOTS = 2
# Slot k pastes class PASTED[k]; its crops hold it in disjoint row bands, and other classes elsewhere.
PASTED = (12, 17)
BANDS = (slice(1, 10), slice(20, 30))  # ClassMix keeps the target in rows 0 and 1


def with_crops(data, seed=0):
    """``data`` plus paste crops (uint8 images, labels, ``paste_class``), collated as the data loader does."""
    generator = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(len(data['inputs'])):
        images, samples = [], []
        for k in range(NUM_SLOTS):
            label = torch.randint(0, 12, (1, *SIZE), generator=generator)
            label[0, BANDS[k], 4:28] = PASTED[k]
            label[0, 0] = 255
            images.append(torch.randint(0, 256, (3, *SIZE), generator=generator, dtype=torch.uint8))
            samples.append(SegDataSample(gt_sem_seg=PixelData(data=label), metainfo=dict(
                paste_class=PASTED[k], img_shape=SIZE, ori_shape=SIZE, pad_shape=SIZE)))
        items.append(dict(paste_inputs=images, paste_data_samples=samples))
    return {**data, **pseudo_collate(items)}


def mixed_batch(model, data, monkeypatch):
    """ClassMix's output, and what the colour jitter and blur received (recorded, passed through)."""
    seen = []

    def recording(img, **kwargs):
        seen.append(img.clone())
        return img
    monkeypatch.setattr(self_training, 'strong_transform', recording)
    uda_step = model.begin_step(data)
    for name, policy in model.teachers.items():
        policy.update(getattr(model, name), model.model, uda_step.iteration)
    pl_label, pl_weight = teacher_pseudo_labels(model, uda_step, 'ema_model')
    return model.mix.class_mix(model, uda_step, pl_label, pl_weight), seen[0], uda_step


def normalised(img):
    """The data preprocessor's normalisation by hand: BGR to RGB, then (x - mean) / std."""
    cfg = segmentor_cfg()['data_preprocessor']
    mean, std = (torch.tensor(cfg[k]).view(3, 1, 1) for k in ('mean', 'std'))
    return (img.flip(0).float() - mean) / std


def test_pasted_pixels_are_the_drawn_classes_of_the_crops_before_the_jitter(monkeypatch):
    data = with_crops(batch(SIZE))
    # A high threshold: target pixels weigh less than 1.
    paste = build_dacs(size=SIZE, mixed_transforms=[dict(type='RareClassPaste')], pseudo_threshold=0.99)
    plain = build_dacs(size=SIZE, pseudo_threshold=0.99)
    (img, label, weight), jitter_input, uda_step = mixed_batch(paste, data, monkeypatch)
    (img0, label0, weight0), _, _ = mixed_batch(plain, data, monkeypatch)
    assert torch.equal(jitter_input, img)  # pasted before the jitter and blur
    pasted = torch.zeros(label.shape, dtype=torch.bool)
    for k in range(NUM_SLOTS):
        for i in range(len(data['inputs'])):
            where = data['paste_data_samples'][k][i].gt_sem_seg.data[0] == PASTED[k]
            assert where.sum() == (BANDS[k].stop - BANDS[k].start) * 24  # labels as built
            expected = normalised(data['paste_inputs'][k][i])
            assert torch.equal(img[i][:, where], expected[:, where])
            assert (label[i][where] == PASTED[k]).all() and (weight[i][where] == 1).all()
            pasted[i] |= where
    # Elsewhere the ClassMix batch is unchanged (the paste draws nothing from the step's generator).
    assert torch.equal(img[~pasted.unsqueeze(1).expand_as(img)], img0[~pasted.unsqueeze(1).expand_as(img0)])
    assert torch.equal(label[~pasted], label0[~pasted]) and torch.equal(weight[~pasted], weight0[~pasted])
    assert (weight0[pasted] != 1).any()  # where target pixels were, the weights changed
    # The crops were preprocessed like the source: normalised, labels stacked, one batch per slot.
    assert len(uda_step.extra['paste']) == NUM_SLOTS and uda_step.extra['paste'][0].label.shape == (2, *SIZE)


def test_a_dacs_step_with_paste_trains_and_without_crops_stops_with_one_line():
    model = build_dacs(size=SIZE, mixed_transforms=[dict(type='RareClassPaste')])
    optim = sgd(model)
    log = step(model, optim, with_crops(batch(SIZE)), 0)
    assert torch.isfinite(log['mix.loss'])
    with pytest.raises(UserError, match=r'no paste_inputs; set train_dataloader.dataset.paste=dict'):
        step(model, optim, batch(SIZE), 1)


def test_new_options_off_give_the_default_dacs_bit_for_bit():
    logs = []
    for options in (dict(), dict(mix_loss_weight=1.0, mixed_transforms=[])):
        model = build_dacs(size=SIZE, **options)
        optim = sgd(model)
        data = [batch(SIZE), batch(SIZE, seed=1)]
        if options:  # crops in the batch that no part uses change nothing either
            data[1] = with_crops(data[1])
        logs.append([step(model, optim, d, iteration) for iteration, d in enumerate(data)])
    for default, off in zip(*logs):
        assert default.keys() == off.keys()
        assert all(torch.equal(default[k], off[k]) for k in default)
