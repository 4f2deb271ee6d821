from semid.eval.seen import drop_seen, repeats_consumption


def test_repeats_consumption_finds_a_target_already_in_its_history() -> None:
    assert not repeats_consumption([["a", "b"], ["b", "c"]], ["c", "d"])
    assert repeats_consumption([["a", "b"], ["b", "c"]], ["c", "b"])


def test_drop_seen_removes_history_items_and_cuts_to_k() -> None:
    run = [["a", "x", "b", "y", "z"], ["q", "r"]]
    assert drop_seen(run, [["a", "b"], ["r"]], 2) == [["x", "y"], ["q"]]
