import gc

import pytest

from textrnn.bulk import collector_paused


def test_collector_paused_restores_the_collector():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("an error inside the block")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()      # the caller's choice is kept
    finally:
        gc.enable()


def test_pipeline_encoding_leaves_the_collector_on():
    from textrnn import Pipeline
    from textrnn.corpus import Example

    train = [Example(text="a good film", label="pos"), Example(text="a bad film", label="neg")]
    pipe = Pipeline.for_task("classify", train=train)
    pipe.encode(train)
    assert gc.isenabled()
