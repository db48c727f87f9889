"""The sorter tests run the GRU on one thread."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The GRU's small matrices gain nothing from more threads, and on busy shared cores two
    threads can make it a hundred times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
