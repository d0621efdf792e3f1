#!/bin/sh
# Feeds the JSON Lines records of `cli_json_test --sample` to Python's json
# module: every line must parse, carry the common keys, and only the last
# one may be final. Usage: json_parse_test.sh PATH/TO/cli_json_test PYTHON3
set -eu
"$1" --sample | "$2" -c '
import json, sys
lines = sys.stdin.read().splitlines()
assert len(lines) == 3, lines
records = [json.loads(line) for line in lines]
for r in records:
    for key in ("cmd", "t", "final", "elapsed_s"):
        assert key in r, (key, r)
    assert isinstance(r["final"], bool)
assert [r["final"] for r in records] == [False, False, True]
assert records[1]["file"] == "odd \"name\"\t\\x.pcap"
assert records[1]["nan"] is None
assert records[2]["tx_packets"] == 12345
print("parsed %d JSON lines" % len(records))
'
