#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses into fuzz/seeds/<harness>/.

Each seed is a valid input in the harness's own script format (see the
comment at the top of each fuzz_*.c): honest write-backs and completions,
bursts and frees for the rings and the virtqueue; ARP, ICMP echo, neighbour
solicitation and ICMPv6 echo frames for the responder; a few captures for
the pcap writer; good command lines for the argument parser. The fuzzers
start from these and mutate them.

    fuzz/make-seeds.py            (rewrites the seeds; they are committed)
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")

OUR_MAC = bytes([0x02, 0, 0, 0, 0, 0x01])
PEER_MAC = bytes([0x02, 0, 0, 0, 0, 0x02])
OUR_IP = bytes([192, 0, 2, 1])
PEER_IP = bytes([192, 0, 2, 2])
OUR_IP6 = bytes.fromhex("20010db8000000000000000000000001")
PEER_IP6 = bytes.fromhex("20010db8000000000000000000000002")


def write(harness, name, data):
    d = os.path.join(SEEDS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


# ---- Intel rings (fuzz_ring.c) ------------------------------------------
# First byte: family (0 igb, 1 e1000e, 2 ixgbe) + 3 * size index (8 << i).
# Then operations: op byte, slot byte, then the operation's own bytes.

def ring_seeds():
    for fam, name in enumerate(("igb", "e1000e", "ixgbe")):
        for size_index in (0, 2):
            first = bytes([fam + 3 * size_index])
            script = b""
            script += bytes([3, 0, 6]) + bytes([0, 1, 2, 3, 4, 180])   # 6 honest receives
            script += bytes([5, 31])                                    # receive burst
            script += bytes([6, 4]) + b"".join(bytes([0]) + u16(46 + 10 * i) for i in range(4))
            script += bytes([4, 0, 15])                                 # transmit completes
            script += bytes([6, 0])                                     # reclaim
            script += bytes([1, 6, 0]) + u16(60)                        # a good write-back at slot 6
            script += bytes([1, 7, 2]) + u32(0x01000000) + u16(60)      # one with an error bit
            script += bytes([5, 8])
            script += bytes([7, 8])                                     # free 8
            script += bytes([8, 3])                                     # allocate 3
            script += bytes([9, 0, 0, 0, 40])                           # move a headroom
            script += bytes([10, 0])                                    # refill, stall check
            write("ring", f"{name}-{8 << size_index}", first + script)
    # A lying device: a write-back with every bit set, a length past the buffer.
    write("ring", "lies", bytes([0, 0, 3]) + u32(0xffffffff) + u16(0xffff) + u32(0xdeadbeef)
          + bytes([2, 5, 1]) + u32(1) + bytes([5, 20, 6, 2, 0]) + u16(60) + bytes([0]) + u16(60))


# ---- virtqueue (fuzz_virtq.c) -------------------------------------------
# First byte: bit 0 receive, bit 1 legacy 10-byte header, (b / 4) % 3 size
# index. Operations: op byte, arg byte, then the operation's own bytes.

def virtq_seeds():
    for receive in (0, 1):
        for legacy in (0, 2):
            first = bytes([receive | legacy | 4])   # 16 entries
            script = b""
            if receive:
                for i in range(4):
                    header = bytes(12)
                    frame = PEER_MAC + OUR_MAC + b"\x08\x00"
                    data = header + frame
                    # complete: arg (how) 0, data length, data, frame length
                    script += bytes([0, 0, len(data)]) + data + u16(46 + i)
                script += bytes([5, 8])      # receive burst
                script += bytes([6, 4])      # free 4
            else:
                script += bytes([5, 4]) + b"".join(bytes([0]) + u16(46 + i) for i in range(4))
                script += bytes([0, 0]) * 4  # the device completes them
                script += bytes([5, 0])      # reclaim
                script += bytes([7, 2])      # allocate 2
                script += bytes([8, 0, 0, 0, 40])
            script += bytes([3, 0])          # used index published
            script += bytes([4, 1])          # no-notify
            write("virtq", f"{'rx' if receive else 'tx'}-{10 if legacy else 12}", first + script)
    write("virtq", "lies", bytes([5]) + bytes([2, 3]) + u32(999) + u32(0xffffffff)
          + bytes([3, 1]) + u16(0x8000) + bytes([5, 10]))


# ---- packed virtqueue (fuzz_vpacked.c) ----------------------------------
# First byte as fuzz_virtq's (bit 6: EVENT_IDX negotiated). Operations: op
# byte, arg byte, then the operation's own bytes; completions as virtq's,
# `how` bit 2 lying flag bits (one more byte), bit 3 a skipped slot.

def vpacked_seeds():
    for receive in (0, 1):
        first = bytes([receive | 4])   # 16 entries
        script = b""
        if receive:
            for i in range(20):        # past the end of the ring: a second lap
                data = bytes(12) + PEER_MAC + OUR_MAC + b"\x08\x00"
                script += bytes([0, 0, len(data)]) + data + u16(46 + i)
                if i % 4 == 3:
                    script += bytes([5, 8, 6, 4])   # receive burst, free 4
        else:
            for r in range(5):
                script += bytes([5, 4]) + b"".join(bytes([0]) + u16(46 + i) for i in range(4))
                script += bytes([0, 0]) * 4          # the device completes them
            script += bytes([5, 0])                  # reclaim
        script += bytes([3, 2]) + u16(0x8003)        # DESC mode, offset 3, lap 0
        script += bytes([4, 1, 9, 0])                # interrupts on, health check
        write("vpacked", "rx" if receive else "tx", first + script)
    # Lies: wrong lap bits, a skipped slot, a bad id; the check twice.
    write("vpacked", "lies", bytes([5]) + bytes([0, 4, 0, 0]) + u16(10) + bytes([0])
          + bytes([0, 8, 0, 0]) + u16(10) + bytes([0, 2, 0, 0]) + u16(10) + bytes([7])
          + bytes([5, 8, 9, 0, 9, 0]))


# ---- packed control queue (fuzz_vpctrl.c) --------------------------------
# First byte: size index. Operations: 0 post (length, class, command),
# 1 answer (op bits 7/6: id 0 / length 1), 2 ack (bit 7: op bit 6), 3 any
# slot, 4 poll.

def vpctrl_seeds():
    post = bytes([0]) + u16(2) + bytes([4, 0])
    ok = bytes([1 | 0xc0, 2 | 0x80, 4])
    err = bytes([1 | 0xc0, 2 | 0xc0, 4])
    write("vpctrl", "ok-err-laps", bytes([1]) + (post + ok + post + err) * 6)
    write("vpctrl", "lies", bytes([0]) + post + bytes([3, 1]) + u16(0) + u32(1) + u16(0x8080)
          + bytes([4]) + post)
    write("vpctrl", "refused", bytes([2]) + bytes([0]) + u16(600) + bytes([4, 0]) + post + post
          + bytes([4]))


# ---- AF_XDP rings (fuzz_xskring.c) ---------------------------------------
# First byte: ring size index (bits 0-1: 4, 8, 16), bit 2 buffers by page.
# Operations: 0 lend (buffer), 1 send (buffer, offset, length), 2 take
# frames (n), 3 take completions (n), 4 kernel takes fill, 5 kernel takes
# tx, 6 kernel rx (how: bit 0 an address it took, then which; else 8
# address bytes; then length and offset choices), 7 kernel completes (the
# same address choice), 8 any index (ring, how, value), 9 health look.

def xskring_seeds():
    honest = b""
    for buf in range(4):
        honest += bytes([0, buf, 4, 6, 1, 0, 0, 46, 0])
    honest += bytes([2, 8])
    for buf in range(4, 7):
        honest += bytes([1, buf, 128, 46, 5, 7, 1, 0])
    honest += bytes([3, 8, 9])
    write("xskring", "honest", bytes([1 | 4]) + honest * 3)
    lies = (bytes([0, 1, 4]) + bytes([6, 0]) + u32(0x40000) + u32(0) + bytes([1]) + u32(60)
            + bytes([0]) + bytes([6, 1, 0, 1]) + u32(0xffffffff) + bytes([1]) + u16(3000)
            + bytes([2, 4, 8, 1, 1]) + u32(0x80000000) + bytes([2, 4, 9])
            + bytes([1, 2, 0, 50, 5, 7, 0]) + u32(2176 * 2 + 1) + u32(0) + bytes([3, 4]))
    write("xskring", "lies", bytes([1]) + lies)


# ---- responder (fuzz_responder.c) ---------------------------------------
# First byte 0: IPv4 and IPv6 addresses, room as the responder asks.

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ipv4(payload, proto=1):
    h = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                              PEER_IP, OUR_IP))
    h[10:12] = struct.pack(">H", csum(bytes(h)))
    return bytes(h) + payload


def icmp6(msg, src, dst, hop=64):
    pseudo = src + dst + struct.pack(">I", len(msg)) + b"\0\0\0\x3a"
    msg = bytearray(msg)
    msg[2:4] = struct.pack(">H", csum(pseudo + bytes(msg)))
    ip = struct.pack(">IHBB", 0x60000000, len(msg), 58, hop) + src + dst
    return ip + bytes(msg)


def responder_seeds():
    arp = (b"\xff" * 6 + PEER_MAC + b"\x08\x06"
           + struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + PEER_MAC + PEER_IP + bytes(6) + OUR_IP)
    write("responder", "arp-request", b"\0" + arp + bytes(18))

    echo = bytearray(struct.pack(">BBHHH", 8, 0, 0, 0x1234, 1) + b"safenic-ping-data")
    echo[2:4] = struct.pack(">H", csum(bytes(echo)))
    frame = OUR_MAC + PEER_MAC + b"\x08\x00" + ipv4(bytes(echo))
    write("responder", "icmp-echo", b"\0" + frame)

    solicited = bytes.fromhex("ff0200000000000000000001ff000001")
    ns = struct.pack(">BBHI", 135, 0, 0, 0) + OUR_IP6 + bytes([1, 1]) + PEER_MAC
    frame = (bytes([0x33, 0x33, 0xff, 0, 0, 1]) + PEER_MAC + b"\x86\xdd"
             + icmp6(ns, PEER_IP6, solicited, hop=255))
    write("responder", "nd-solicit", b"\0" + frame)

    echo6 = struct.pack(">BBHHH", 128, 0, 0, 0x4321, 1) + b"safenic-ping6"
    frame = OUR_MAC + PEER_MAC + b"\x86\xdd" + icmp6(echo6, PEER_IP6, OUR_IP6)
    write("responder", "icmp6-echo", b"\0" + frame)


# ---- pcap writer (fuzz_pcap.c) ------------------------------------------
# flags (1 nano, 2 snaplen given, 4 snaplen 65536, 8 buffer x16, 16 file
# limit), [snaplen], buffer size, [limit / 4], then frames: seconds,
# nanoseconds, length, up to 64 bytes.

def pcap_frames(n):
    out = b""
    for i in range(n):
        data = PEER_MAC + OUR_MAC + b"\x08\x00" + bytes(range(i, i + 46 + i))
        out += u32(1700000000 + i) + u32(123456789 + i) + u16(len(data)) + data
    return out


def pcap_seeds():
    write("pcap", "plain", bytes([0]) + u16(0) + pcap_frames(3))
    write("pcap", "nano-snaplen", bytes([1 | 2]) + u16(40) + u16(200) + pcap_frames(4))
    write("pcap", "disk-full", bytes([16]) + u16(100) + u16(40) + pcap_frames(4))
    write("pcap", "jumbo", bytes([0]) + u16(0) + u32(1) + u32(2) + u16(0xf000 | 9000) + bytes(64))


# ---- argument parser (fuzz_args.c) --------------------------------------
# Arguments separated by NUL bytes.

def args_seeds():
    lines = {
        "one-device": ["0000:03:00.0"],
        "all-options": ["--count", "10k", "--duration", "1.5", "--mac", "02:00:00:00:00:01",
                        "--ip", "192.0.2.1", "--ip6", "2001:db8::1", "--flag",
                        "-w", "out.pcap", "0000:03:00.0", "0000:03:00.1"],
        "equals": ["--count=5", "--duration=250ms", "--mac=02-00-00-00-00-09", "--write=x",
                   "--", "-dev"],
        "help": ["--help"],
        "units": ["-c", "2M", "--duration", "2m", "a", "--ip6", "::ffff:10.0.0.1"],
    }
    for name, argv in lines.items():
        write("args", name, b"\0".join(a.encode() for a in argv))


def main():
    if os.path.isdir(SEEDS):
        shutil.rmtree(SEEDS)
    ring_seeds()
    virtq_seeds()
    vpacked_seeds()
    vpctrl_seeds()
    xskring_seeds()
    responder_seeds()
    pcap_seeds()
    args_seeds()
    count = sum(len(files) for _, _, files in os.walk(SEEDS))
    print(f"make-seeds: {count} seeds in {SEEDS}")


if __name__ == "__main__":
    main()
