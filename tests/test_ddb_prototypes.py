"""DDB's prototype maths: the running class means against a loop-by-loop computation (min-pixel rule and cap),
the prototype weights and the rectified ensemble on hand-computed numbers, and the prototype file."""
import pytest
import torch

from daseg.errors import UserError
from daseg.models.ddb import (PrototypeAccumulator, load_prototypes, prototype_weights, rectified_ensemble,
                              save_prototypes)
from daseg.weights import save_checkpoint_atomic

K, C, MIN_PIXELS, CAP = 4, 3, 5, 2


def loop_accumulate(batches, num_classes, min_pixels, cap):
    """The update written pixel by pixel in plain Python: the second implementation."""
    mu = [[0.0] * C for _ in range(num_classes)]
    n = [0] * num_classes
    events = {'skipped': 0, 'capped_updates': 0}
    for features, pred in batches:
        for i in range(features.shape[0]):
            for c in range(num_classes):
                pixels = [(y, x) for y in range(pred.shape[1]) for x in range(pred.shape[2]) if pred[i, y, x] == c]
                if len(pixels) < min_pixels:
                    events['skipped'] += len(pixels) > 0
                    continue
                v = [sum(float(features[i, ch, y, x]) for y, x in pixels) / len(pixels) for ch in range(C)]
                events['capped_updates'] += n[c] == cap
                mu[c] = [(m * n[c] + vj) / (n[c] + 1) for m, vj in zip(mu[c], v)]
                n[c] = min(n[c] + 1, cap)
    return torch.tensor(mu), torch.tensor(n), events


def test_accumulator_equals_the_loop_computation_with_min_pixels_and_cap():
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(3):
        features = torch.rand(2, C, 4, 5, generator=generator) + 0.1
        # Class 3 is rare (about 1 pixel in 20 -> mostly below min_pixels); class 0 is in every image.
        pred = torch.multinomial(torch.tensor([0.45, 0.3, 0.2, 0.05]), 2 * 20, replacement=True,
                                 generator=generator).reshape(2, 4, 5)
        batches.append((features, pred))
    acc = PrototypeAccumulator(K, C, min_pixels=MIN_PIXELS, cap=CAP)
    for features, pred in batches:
        acc.update(features, pred)
    mu, n, events = loop_accumulate(batches, K, MIN_PIXELS, CAP)
    # The case exercises both rules: some class was skipped for too few pixels, some update came after the cap.
    assert events['skipped'] > 0 and events['capped_updates'] > 0
    torch.testing.assert_close(acc.prototypes, mu)
    assert torch.equal(acc.counts, n)
    assert acc.missing == [c for c in range(K) if n[c] == 0]
    # Logits give the same as their argmax.
    from_logits = PrototypeAccumulator(K, C, min_pixels=MIN_PIXELS, cap=CAP)
    for features, pred in batches:
        from_logits.update(features, torch.nn.functional.one_hot(pred, K).permute(0, 3, 1, 2).float() * 3)
    torch.testing.assert_close(from_logits.prototypes, acc.prototypes)


def test_cap_turns_the_mean_into_an_ema_of_weight_one_over_cap_plus_one():
    acc = PrototypeAccumulator(1, 1, min_pixels=1, cap=2)
    for value in (3.0, 6.0, 9.0, 0.5):
        acc.update(torch.full((1, 1, 2, 2), value), torch.zeros(1, 2, 2, dtype=torch.long))
    # 3; (3 + 6) / 2 = 4.5; (4.5 * 2 + 9) / 3 = 6; (6 * 2 + 0.5) / 3 = 4.1666...
    assert acc.prototypes.item() == pytest.approx(12.5 / 3) and acc.counts.item() == 2


def test_ignored_labels_count_for_no_class_and_unseen_classes_are_missing():
    acc = PrototypeAccumulator(3, 2, min_pixels=2)
    pred = torch.tensor([[[0, 0, 255], [255, 255, 1]]])
    features = torch.arange(12, dtype=torch.float32).reshape(1, 2, 2, 3)
    acc.update(features, pred)
    # Class 0 at pixels (0, 0), (0, 1): channel 0 values 0, 1 and channel 1 values 6, 7; class 1 has one pixel.
    torch.testing.assert_close(acc.prototypes[0], torch.tensor([0.5, 6.5]))
    assert acc.counts.tolist() == [1, 0, 0] and acc.missing == [1, 2]
    with pytest.raises(UserError, match='do not match 2 channels'):
        acc.update(features[:, :1], pred)


def test_prototype_weights_are_softmax_of_minus_the_distance():
    features = torch.tensor([0.0, 0.0]).reshape(1, 2, 1, 1)
    prototypes = torch.tensor([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0]])  # distances 5, 1, 0
    weights = prototype_weights(features, prototypes)
    torch.testing.assert_close(weights.flatten(), torch.tensor([0.0049016890, 0.2676231541, 0.7274751568]))
    # A class without a prototype gets 0 and the others share the softmax: e^-5 / (e^-5 + e^-1), e^-1 / (...).
    weights = prototype_weights(features, prototypes, present=torch.tensor([True, True, False]))
    torch.testing.assert_close(weights.flatten(), torch.tensor([0.0179862100, 0.9820137900, 0.0]))
    # Shift invariance: DDB's softmax(-(d - min d)) is the same; translating features and prototypes changes nothing.
    shifted = prototype_weights(features + torch.tensor([10.0, -7.0]).reshape(1, 2, 1, 1),
                                prototypes + torch.tensor([10.0, -7.0]))
    torch.testing.assert_close(shifted, prototype_weights(features, prototypes))


def test_rectified_ensemble_on_a_hand_case():
    p1, w1 = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.2, 0.2, 0.6])
    p2, w2 = torch.tensor([0.1, 0.6, 0.3]), torch.tensor([0.5, 0.25, 0.25])
    pixel = [t.reshape(1, 3, 1, 1) for t in (p1, w1, p2, w2)]
    # w * p = (0.1, 0.06, 0.12) and (0.05, 0.15, 0.075); their mean:
    plain = rectified_ensemble([pixel[0], pixel[2]], [pixel[1], pixel[3]])
    torch.testing.assert_close(plain.flatten(), torch.tensor([0.075, 0.105, 0.0975]))
    # Renormalised first: / 0.28 and / 0.275.
    renormalised = rectified_ensemble([pixel[0], pixel[2]], [pixel[1], pixel[3]], renormalise=True)
    torch.testing.assert_close(renormalised.flatten(), torch.tensor([0.2694805195, 0.3798701299, 0.3506493506]))
    torch.testing.assert_close(rectified_ensemble([pixel[0], pixel[2]]).flatten(), torch.tensor([0.3, 0.45, 0.25]))


def test_prototype_file_round_trip_and_errors(tmp_path):
    acc = PrototypeAccumulator(3, 2, min_pixels=1, cap=7)
    acc.update(torch.rand(1, 2, 3, 3), torch.tensor([[[0, 0, 0], [2, 2, 2], [0, 2, 0]]]))
    path = str(tmp_path / 'prototypes.pth')
    save_prototypes(path, acc, {'checkpoint': 'iter_4.pth', 'epochs': 4})
    prototypes, counts, provenance = load_prototypes(path, num_classes=3, channels=2)
    assert torch.equal(prototypes, acc.prototypes) and torch.equal(counts, acc.counts)
    assert provenance == {'checkpoint': 'iter_4.pth', 'epochs': 4}
    with pytest.raises(UserError, match='refusing to overwrite'):
        save_prototypes(path, acc, {})
    save_prototypes(path, acc, {'again': True}, overwrite=True)
    assert load_prototypes(path)[2] == {'again': True}
    with pytest.raises(UserError, match='provenance of prototypes must be plain data'):
        save_prototypes(str(tmp_path / 'p2.pth'), acc, {'bad': object()})
    with pytest.raises(UserError, match='prototype file not found: .*missing.pth'):
        load_prototypes(str(tmp_path / 'missing.pth'))
    with pytest.raises(UserError, match=r'shape \(3, 2\), the model needs \(19, 2\)'):
        load_prototypes(path, num_classes=19)
    with pytest.raises(UserError, match=r'shape \(3, 2\), the model needs \(3, 256\)'):
        load_prototypes(path, channels=256)
    other = str(tmp_path / 'checkpoint.pth')
    save_checkpoint_atomic({'state_dict': {'w': torch.zeros(1)}}, other)
    with pytest.raises(UserError, match='is not a prototype file'):
        load_prototypes(other)
    # The state dict resumes an accumulator.
    resumed = PrototypeAccumulator(3, 2)
    resumed.load_state_dict(acc.state_dict())
    assert torch.equal(resumed.prototypes, acc.prototypes) and resumed.cap == 7
