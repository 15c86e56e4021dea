import numpy as np
import pytest

from mmzoo.data import load_data
from mmzoo.data.synthetic import generate


def test_generating_process_means():
    visual, textual, c, m = generate(20000, sigma=1.0, seed=0)
    from mmzoo.data import synthetic as s

    v = visual[:, 0] + s.VISUAL_CENTRE
    t = textual[:, 0] + s.TEXTUAL_CENTRE
    for cls in (0, 1):
        sel = (m == 0) & (c == cls)
        assert abs(v[sel].mean() - s.VISUAL_MEANS[cls]) < 0.05
        assert abs(t[sel].mean() - s.TEXTUAL_NOISE_MEAN) < 0.05
        sel = (m == 1) & (c == cls)
        assert abs(t[sel].mean() - s.TEXTUAL_MEANS[cls]) < 0.05
        assert abs(v[sel].mean() - s.VISUAL_NOISE_MEAN) < 0.05
    assert abs(visual.mean()) < 0.1 and abs(textual.mean()) < 0.1  # centred
    assert abs(c.mean() - 0.5) < 0.02 and abs(m.mean() - 0.5) < 0.02


def test_splits_are_seeded_and_distinct():
    a = load_data("synthetic", "train", seed=3)
    b = load_data("synthetic", "train", seed=3)
    np.testing.assert_array_equal(a.features["visual"], b.features["visual"])
    val = load_data("synthetic", "val", seed=3)
    assert not np.allclose(a.features["visual"][:10], val.features["visual"][:10])
    every = load_data("synthetic", "all", seed=3)
    test = load_data("synthetic", "test", seed=3)
    assert len(every) == len(a) + len(val) + len(test)


def test_bad_options():
    with pytest.raises(ValueError, match="sigma"):
        load_data("synthetic", "train", sigma=-1.0)
    with pytest.raises(ValueError, match="Unknown option 'sigmaa'"):
        load_data("synthetic", "train", sigmaa=1.0)
    with pytest.raises(ValueError, match="Unknown split 'dev'"):
        load_data("synthetic", "dev")
    with pytest.raises(ValueError, match="Unknown data source 'nope'"):
        load_data("nope")
