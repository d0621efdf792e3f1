#!/usr/bin/env python3
"""Host hook for the fault scenarios: the guest asks, the monitor acts.

    host-monitor.py CONSOLE_LOG MONITOR_SOCKET

Runs beside one guest (run-guest.sh --host-hook starts it with the
console log in $SAFENIC_CONSOLE and QEMU's human monitor socket in
$SAFENIC_MONITOR). It follows the console log, and for every line

    HOST-MONITOR <tag>: <command>

a guest scenario prints, it sends <command> to QEMU's monitor at once,
then prints "MONITOR-DONE <tag>: <command> -> <reply>" to its own output
(run-guest.sh keeps it as <case>.host.log). Only the commands a fault
test needs are passed on: set_link NAME on|off and device_del ID. It ends
when the guest prints SCENARIO-EXIT, and exits 1 if a command was refused
or the monitor could not be reached.
"""
import os
import re
import socket
import sys
import time

REQUEST = re.compile(r"^HOST-MONITOR ([A-Za-z0-9_-]+): (.*)$")
ALLOWED = [re.compile(r"^set_link [A-Za-z0-9_-]+ (on|off)$"),
           re.compile(r"^device_del [A-Za-z0-9_-]+$")]
PROMPT = b"(qemu) "


class Monitor:
    """QEMU's human monitor (HMP) on a unix socket, connected lazily."""

    def __init__(self, path):
        self.path = path
        self.sock = None

    def connect(self, wait=10.0):
        deadline = time.monotonic() + wait
        while True:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(self.path)
                break
            except OSError as e:
                sock.close()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cannot connect to the monitor {self.path}: {e}")
                time.sleep(0.05)
        sock.settimeout(10.0)
        self.sock = sock
        self.read_to_prompt()   # the greeting

    def read_to_prompt(self):
        data = b""
        while not data.endswith(PROMPT):
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("the monitor closed the connection")
            data += chunk
        return data[:-len(PROMPT)].decode(errors="replace")

    def command(self, line):
        if self.sock is None:
            self.connect()
        self.sock.sendall(line.encode() + b"\n")
        reply = self.read_to_prompt()
        # HMP echoes the command (with terminal escapes); keep the rest.
        lines = [x.strip() for x in reply.replace("\r", "\n").split("\n")]
        lines = [x for x in lines if x and line not in x and "\x1b" not in x]
        return " ".join(lines) or "ok"


def follow(path):
    """Yields the lines of a growing file, from its start."""
    while not os.path.exists(path):
        time.sleep(0.05)
    with open(path, "rb") as f:
        pending = b""
        while True:
            chunk = f.read()
            if not chunk:
                time.sleep(0.02)
                continue
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                yield raw.decode(errors="replace").strip("\r")


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    console, sock_path = sys.argv[1], sys.argv[2]
    monitor = Monitor(sock_path)
    failed = 0
    start = time.monotonic()
    for line in follow(console):
        if line.startswith("SCENARIO-EXIT:"):
            break
        m = REQUEST.match(line)
        if not m:
            continue
        tag, cmd = m.group(1), m.group(2).strip()
        if not any(p.match(cmd) for p in ALLOWED):
            print(f"MONITOR-REFUSED {tag}: '{cmd}' is not a command this hook passes on")
            failed += 1
            continue
        try:
            reply = monitor.command(cmd)
        except (OSError, RuntimeError) as e:
            print(f"MONITOR-FAILED {tag}: {cmd}: {e}")
            failed += 1
            continue
        # Both commands print nothing when they succeed.
        word = "DONE" if reply == "ok" else "FAILED"
        failed += word == "FAILED"
        print(f"MONITOR-{word} {tag}: {cmd} -> {reply} "
              f"(at {time.monotonic() - start:.2f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
