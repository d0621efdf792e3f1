#!/usr/bin/env python3
"""Host-side checks of the tools-* guest scenarios (bench/run-tools.sh).

  tools-check.py pcap CONSOLE_LOG OUT_DIR
      Every capture the guest copied out (PCAP-BEGIN NAME SHA256 BYTES,
      base64 of gzip, PCAP-END NAME) is decoded into OUT_DIR/NAME.pcap,
      checked against its checksum, read back with tshark, and held
      against the guest's PCAP-EXPECT NAME line: frames=N, bytes=B (sum of
      original frame lengths), caplen=full|N, udp=N (frames tshark decodes
      as UDP), nano=1 (nanosecond timestamps). tshark must read every
      frame without a complaint (a file cut in the middle of a record
      makes it say so and exit non-zero).
  tools-check.py json CONSOLE_LOG
      Every command's JSON Lines (JSONL NAME {...}) must parse, carry the
      common keys and the command's counters and rates, have counters that
      never go down, and end with exactly one record marked final.

Prints one line per capture or command ("PCAP name OK ..." / "JSON name
OK ..." or FAIL with the reason) and exits 1 if any failed.
"""
import base64
import gzip
import hashlib
import json
import os
import subprocess
import sys

REQUIRED_KEYS = {
    "gen": ["tx_packets", "tx_bytes", "tx_drops", "device_errors", "tx_pps", "tx_bps"],
    "recv": ["rx_packets", "rx_bytes", "valid", "lost", "duplicated", "corrupted",
             "foreign", "rx_drops", "rx_pps", "rx_bps"],
    "fwd": ["a_to_b", "b_to_a", "drops", "a_rx_packets", "a_tx_packets",
            "b_rx_packets", "b_tx_packets", "a_rx_pps", "b_tx_bps"],
    "dump": ["captured", "frames", "bytes", "file_bytes", "truncated",
             "rx_packets", "rx_drops", "pps", "bps"],
    "respond": ["rx_packets", "tx_packets", "arp", "icmp", "nd", "icmp6",
                "ignored", "fragments", "too_big", "bad_checksum", "malformed",
                "rx_pps", "tx_pps"],
}
COMMON_KEYS = ["cmd", "t", "final", "elapsed_s"]
# Integer fields that may go down: recv's frames still missing, fwd's frames
# held for the transmitter.
GAUGES = {"lost", "held"}


def console_lines(path):
    with open(path, "rb") as f:
        for raw in f:
            yield raw.decode("utf-8", "replace").rstrip("\r\n").rstrip("\r")


def extract_pcaps(path):
    """{name: (sha256, size, bytes or None)} and {name: expectations}."""
    captures, expects, current = {}, {}, None
    for line in console_lines(path):
        if line.startswith("PCAP-BEGIN "):
            _, name, digest, size = line.split()
            current = (name, digest, int(size), [])
        elif line.startswith("PCAP-END ") and current:
            name, digest, size, chunks = current
            try:
                data = gzip.decompress(base64.b64decode("".join(chunks)))
            except (ValueError, OSError) as e:
                data = e
            captures[name] = (digest, size, data)
            current = None
        elif current:
            current[3].append(line.strip())
        elif line.startswith("PCAP-EXPECT "):
            words = line.split()
            expects[words[1]] = dict(w.split("=", 1) for w in words[2:])
    return captures, expects


def tshark_fields(path):
    proc = subprocess.run(
        ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=/t",
         "-e", "frame.len", "-e", "frame.cap_len", "-e", "udp.srcport"],
        capture_output=True, text=True)
    complaints = [l for l in proc.stderr.splitlines()
                  if l.strip() and "Running as user" not in l]
    rows = [l.split("\t") for l in proc.stdout.splitlines() if l.strip()]
    return proc.returncode, complaints, rows


def tshark_summary(path):
    """The first two and the last frame as tshark shows them."""
    proc = subprocess.run(["tshark", "-n", "-r", path], capture_output=True, text=True)
    lines = [l.strip() for l in proc.stdout.splitlines()]
    if len(lines) > 3:
        lines = lines[:2] + ["..."] + lines[-1:]
    return ["    tshark: " + l for l in lines]


def check_capture(name, capture, expect, out_dir):
    digest, size, data = capture
    if isinstance(data, Exception):
        return False, "cannot decode the copy: %s" % data, []
    if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        return False, "copy differs from the guest's file (%d bytes)" % len(data), []
    path = os.path.join(out_dir, name + ".pcap")
    with open(path, "wb") as f:
        f.write(data)
    rc, complaints, rows = tshark_fields(path)
    if rc != 0 or complaints:
        return False, "tshark exit %d: %s" % (rc, "; ".join(complaints)[:300]), []
    frames = len(rows)
    total = sum(int(r[0]) for r in rows)
    caplens = {int(r[1]) for r in rows}
    full = all(r[0] == r[1] for r in rows)
    udp = sum(1 for r in rows if len(r) > 2 and r[2])
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    got = "frames=%d bytes=%d udp=%d caplen=%s%s" % (
        frames, total, udp, "full" if full else ",".join(map(str, sorted(caplens))),
        " nano" if nano else "")
    problems = []
    if expect is None:
        problems.append("no PCAP-EXPECT line")
        expect = {}
    if "frames" in expect and int(expect["frames"]) != frames:
        problems.append("frames %d, expected %s" % (frames, expect["frames"]))
    if "bytes" in expect and int(expect["bytes"]) != total:
        problems.append("bytes %d, expected %s" % (total, expect["bytes"]))
    if expect.get("caplen") == "full" and not full:
        problems.append("frames were cut")
    elif expect.get("caplen", "full") != "full" and caplens != {int(expect["caplen"])}:
        problems.append("captured lengths %s, expected %s" % (sorted(caplens), expect["caplen"]))
    if "udp" in expect and int(expect["udp"]) != udp:
        problems.append("udp %d, expected %s" % (udp, expect["udp"]))
    if expect.get("nano") == "1" and not nano:
        problems.append("not nanosecond timestamps")
    if problems:
        return False, got + ": " + "; ".join(problems), []
    return True, got, tshark_summary(path)


def cmd_pcap(console, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    captures, expects = extract_pcaps(console)
    ok = True
    for name in sorted(set(captures) | set(expects)):
        if name not in captures:
            print("PCAP %s FAIL the guest copied no file" % name)
            ok = False
            continue
        good, text, shown = check_capture(name, captures[name], expects.get(name), out_dir)
        print("PCAP %s %s %s" % (name, "OK" if good else "FAIL", text))
        for line in shown:
            print(line)
        ok = ok and good
    return ok


def check_records(name, records):
    for r in records:
        for key in COMMON_KEYS:
            if key not in r:
                return "a record lacks %r" % key
    cmd = records[0]["cmd"]
    if any(r["cmd"] != cmd for r in records):
        return "records of several commands"
    finals = [i for i, r in enumerate(records) if r["final"] is True]
    if finals != [len(records) - 1]:
        return "final records at %s of %d" % (finals, len(records))
    if len(records) < 2:
        return "no per-second record before the final one"
    for key in REQUIRED_KEYS.get(cmd, []):
        if any(key not in r for r in records):
            return "a record lacks %r" % key
    for key, value in records[0].items():
        if not isinstance(value, int) or isinstance(value, bool) or key in GAUGES:
            continue
        values = [r[key] for r in records if key in r]
        if any(b < a for a, b in zip(values, values[1:])):
            return "counter %r goes down: %s" % (key, values)
    ticks = [r["t"] for r in records[:-1]]
    if ticks != sorted(ticks):
        return "ticks out of order"
    return None


def cmd_json(console):
    groups = {}
    ok = True
    for line in console_lines(console):
        if not line.startswith("JSONL "):
            continue
        _, name, text = line.split(" ", 2)
        try:
            groups.setdefault(name, []).append(json.loads(text))
        except ValueError as e:
            print("JSON %s FAIL does not parse (%s): %s" % (name, e, text[:200]))
            ok = False
            groups.setdefault(name, [])
    for name, records in sorted(groups.items()):
        if not records:
            continue
        problem = check_records(name, records)
        final = records[-1]
        shown = {k: final[k] for k in REQUIRED_KEYS.get(final.get("cmd"), [])[:4] if k in final}
        if problem:
            print("JSON %s FAIL %s" % (name, problem))
            ok = False
        else:
            print("JSON %s OK %d records (%d per second + final), final %s" % (
                name, len(records), len(records) - 1, json.dumps(shown)))
    return ok


def main(argv):
    if len(argv) == 4 and argv[1] == "pcap":
        return 0 if cmd_pcap(argv[2], argv[3]) else 1
    if len(argv) == 3 and argv[1] == "json":
        return 0 if cmd_json(argv[2]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
