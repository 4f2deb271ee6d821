"""The wrk script sends exactly the bodies it was given, each as its own JSON string, round robin."""

import json
import re

from benchmarks.serve_wrk_lua import wrk_script


def test_wrk_script_holds_every_body_as_json():
    bodies = [{"history": ["1", "2"], "k": 10}, {"query": 'a "quoted" text', "k": 5}]
    lua = wrk_script(bodies)
    assert [json.loads(b) for b in re.findall(r"\[\[(.*?)\]\]", lua)] == bodies
    assert 'wrk.format("POST", "/search"' in lua and "bodies[(i % #bodies) + 1]" in lua
