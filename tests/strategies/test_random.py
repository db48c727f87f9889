"""Random (strategies/random.py): the first items of the shared order."""
from helpers import BUDGET, query


def test_random_takes_the_first_items_of_the_shared_order(trained):
    assert query(trained, "random") == list(range(BUDGET))
