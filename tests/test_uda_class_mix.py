"""ClassMix: each image pastes ceil(n/2) of its own classes, never the ignore label; mixing selects per pixel."""
import math

import torch

from daseg.models.uda import class_mix_masks, mix

LABELS = torch.tensor([
    [[0, 0, 1, 255], [2, 2, 1, 255], [2, 2, 1, 1]],   # classes {0, 1, 2} + ignore
    [[3, 4, 5, 6], [7, 3, 4, 5], [6, 7, 255, 3]],     # classes {3, ..., 7} + ignore
    [[255, 255, 255, 255]] * 3,                        # nothing labelled
    [[9, 9, 9, 9]] * 3,                                # a single class
])


def test_each_image_selects_half_of_its_own_classes():
    for seed in range(20):
        masks = class_mix_masks(LABELS.unsqueeze(1), generator=torch.Generator().manual_seed(seed))
        assert masks.shape == (4, 1, 3, 4) and masks.dtype == torch.float32
        for label, mask in zip(LABELS, masks[:, 0]):
            own = set(label.unique().tolist()) - {255}
            selected = set(label[mask.bool()].tolist())
            assert selected <= own
            assert len(selected) == math.ceil(len(own) / 2)
            # Exactly the pixels of the selected classes are pasted.
            assert torch.equal(mask.bool(), torch.isin(label, torch.tensor(sorted(selected), dtype=torch.long)))


def test_masks_are_reproducible_with_a_seeded_generator():
    first = class_mix_masks(LABELS, generator=torch.Generator().manual_seed(3))
    second = class_mix_masks(LABELS, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, second)


def test_mix_follows_the_mask_for_images_labels_and_weights():
    mask = class_mix_masks(LABELS[:2], generator=torch.Generator().manual_seed(0))
    src_img, tgt_img = torch.randn(2, 3, 3, 4), torch.randn(2, 3, 3, 4)
    torch.testing.assert_close(mix(mask, src_img, tgt_img), mask * src_img + (1 - mask) * tgt_img)

    pseudo = torch.randint(0, 19, (2, 3, 4))
    mixed_label = mix(mask, LABELS[:2], pseudo)
    assert mixed_label.dtype == torch.long
    on = mask[:, 0].bool()
    assert torch.equal(mixed_label[on], LABELS[:2][on]) and torch.equal(mixed_label[~on], pseudo[~on])
    assert torch.equal(mix(mask, LABELS[:2, None], pseudo[:, None])[:, 0], mixed_label)

    pseudo_weight = torch.full((2, 3, 4), 0.3)
    mixed_weight = mix(mask, torch.ones_like(pseudo_weight), pseudo_weight)
    assert torch.all(mixed_weight[on] == 1) and torch.all(mixed_weight[~on] == 0.3)
