#!/usr/bin/env python3
"""Host-side peer for the safenic bench's tap1 topology (stdlib only, root).

  host-peer.py sniff IFACE [--count N] [--timeout S] [--min-foreign K]
      Counts and validates the frames that arrive on IFACE (frames the host
      itself sends are ignored) and prints
        HOST-SNIFF: received=N valid=V corrupted=C foreign=F duplicated=D
                    reordered=R lost=L socket_drops=S
      on one line. Stops after N distinct valid frames, after S seconds, or
      on SIGINT/SIGTERM. Exit 0 when (with --count) exactly N distinct valid
      frames with seq 0..N-1 arrived and nothing was corrupted or duplicated,
      and (with --min-foreign) at least K foreign frames arrived.

  host-peer.py send IFACE --count N [--rate PPS] [--size BYTES] ...
      Sends N frames in safenic's generator format, seq 0..N-1, paced at
      PPS (0 = as fast as possible), and prints
        HOST-SEND: sent=N seconds=T iface_tx_dropped=D

  host-peer.py selfcheck
      Builds frames of every size and checks that the validator accepts
      them and rejects damaged ones (no root, no network).

Frame format (safenic's generator; the CLI's receiver checks the same):
  Ethernet II: dst MAC, src MAC, ethertype 0x0800
  IPv4, 20 bytes: version 4, IHL 5, TOS 0, total length, identification =
    seq & 0xffff, flags/fragment 0, TTL 64, protocol 17, header checksum
  UDP: src port, dst port, length, checksum over the IPv4 pseudo-header,
    header and payload (a computed 0 is sent as 0xffff)
  payload: 0-1 magic 0x5AFE, 2-9 seq (u64), 10-17 timestamp ns (u64), all
    big-endian; every byte at payload offset k >= 18 is k & 0xff.
  Frame length excludes the FCS: 60 (18-byte payload) to 1514 bytes.
A frame is "foreign" when it is not IPv4/UDP at all, "corrupted" when it is
IPv4/UDP but breaks any rule above, else "valid".
"""

import argparse
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETHERTYPE_IPV4 = 0x0800
IPPROTO_UDP = 17
PACKET_OUTGOING = 4        # sll_pkttype of frames this host sent
SOL_PACKET = 263
PACKET_STATISTICS = 6

ETH_LEN, IP_LEN, UDP_LEN = 14, 20, 8
HEADERS_LEN = ETH_LEN + IP_LEN + UDP_LEN
PAYLOAD_HEADER_LEN = 18    # magic + seq + timestamp
MIN_FRAME, MAX_FRAME = 60, 1514
MAGIC = 0x5AFE
PATTERN = bytes(k & 0xFF for k in range(MAX_FRAME))

DEFAULTS = {
    # The guest's NIC1 (bench/guest/lib.sh); the host peer; the test's own
    # tap-only addresses.
    "dst_mac": "02:5a:fe:00:00:01",
    "src_mac": "02:00:00:00:00:02",
    "src_ip": "10.0.0.2",
    "dst_ip": "10.0.0.1",
    "src_port": 4000,
    "dst_port": 4001,
}


# --- frame format -----------------------------------------------------------

def ones_complement_sum(data):
    """16-bit one's complement sum of data (odd length padded with 0)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def internet_checksum(data):
    return ~ones_complement_sum(data) & 0xFFFF


def udp_pseudo_header(src_ip, dst_ip, udp_len):
    return src_ip + dst_ip + struct.pack("!BBH", 0, IPPROTO_UDP, udp_len)


def build_frame(seq, size, src_mac, dst_mac, src_ip, dst_ip, src_port,
                dst_port, timestamp_ns):
    """One generator frame of `size` bytes (no FCS). MACs and IPs are bytes."""
    payload_len = size - HEADERS_LEN
    payload = (struct.pack("!HQQ", MAGIC, seq, timestamp_ns)
               + PATTERN[PAYLOAD_HEADER_LEN:payload_len])
    udp_len = UDP_LEN + payload_len
    udp_header = struct.pack("!HHHH", src_port, dst_port, udp_len, 0)
    udp_sum = internet_checksum(udp_pseudo_header(src_ip, dst_ip, udp_len)
                                + udp_header + payload) or 0xFFFF
    udp_header = udp_header[:6] + struct.pack("!H", udp_sum)
    ip_header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, IP_LEN + udp_len,
                            seq & 0xFFFF, 0, 64, IPPROTO_UDP, 0, src_ip, dst_ip)
    ip_header = (ip_header[:10] + struct.pack("!H", internet_checksum(ip_header))
                 + ip_header[12:])
    eth_header = dst_mac + src_mac + struct.pack("!H", ETHERTYPE_IPV4)
    return eth_header + ip_header + udp_header + payload


def classify_frame(frame):
    """Return (kind, seq, reason): kind is valid, corrupted or foreign."""
    if len(frame) < ETH_LEN + IP_LEN:
        return "foreign", None, "short"
    if struct.unpack_from("!H", frame, 12)[0] != ETHERTYPE_IPV4:
        return "foreign", None, "not IPv4"
    if frame[ETH_LEN + 9] != IPPROTO_UDP:
        return "foreign", None, "not UDP"
    return check_udp_frame(frame)


def check_udp_frame(frame):
    """Validate an IPv4/UDP frame against the generator format."""
    def bad(reason):
        return "corrupted", seq, reason

    seq = None
    if len(frame) < MIN_FRAME or len(frame) > MAX_FRAME:
        return bad("frame length %d outside %d..%d" % (len(frame), MIN_FRAME, MAX_FRAME))
    ip = frame[ETH_LEN:ETH_LEN + IP_LEN]
    ver_ihl, _tos, total_len, ident, frag, _ttl, _proto, _sum, src_ip, dst_ip = \
        struct.unpack("!BBHHHBBH4s4s", ip)
    payload = frame[HEADERS_LEN:]
    if len(payload) >= 10:
        seq = struct.unpack_from("!Q", payload, 2)[0]
    if ver_ihl != 0x45:
        return bad("version/IHL 0x%02x" % ver_ihl)
    if ones_complement_sum(ip) != 0xFFFF:
        return bad("IPv4 header checksum")
    # No frame of this format needs Ethernet padding (the smallest is exactly
    # 60 bytes), so the IPv4 length must cover the frame exactly.
    if total_len != len(frame) - ETH_LEN:
        return bad("IPv4 total length %d, frame carries %d" % (total_len, len(frame) - ETH_LEN))
    if frag != 0:
        return bad("flags/fragment 0x%04x" % frag)
    udp = frame[ETH_LEN + IP_LEN:HEADERS_LEN]
    _sport, _dport, udp_len, udp_sum = struct.unpack("!HHHH", udp)
    if udp_len != total_len - IP_LEN:
        return bad("UDP length %d, IPv4 says %d" % (udp_len, total_len - IP_LEN))
    if udp_sum == 0 or ones_complement_sum(
            udp_pseudo_header(src_ip, dst_ip, udp_len) + udp + payload) != 0xFFFF:
        return bad("UDP checksum 0x%04x" % udp_sum)
    if len(payload) < PAYLOAD_HEADER_LEN:
        return bad("payload %d bytes" % len(payload))
    if struct.unpack_from("!H", payload, 0)[0] != MAGIC:
        return bad("magic")
    if ident != seq & 0xFFFF:
        return bad("IPv4 id 0x%04x for seq %d" % (ident, seq))
    if payload[PAYLOAD_HEADER_LEN:] != PATTERN[PAYLOAD_HEADER_LEN:len(payload)]:
        return bad("payload pattern")
    return "valid", seq, None


# --- sniff ------------------------------------------------------------------

class SniffStats:
    def __init__(self, expected):
        self.expected = expected
        self.received = self.valid = self.corrupted = self.foreign = 0
        self.duplicated = self.reordered = 0
        self.seen = set()
        self.highest = -1
        self.reasons = []

    def add(self, frame):
        self.received += 1
        kind, seq, reason = classify_frame(frame)
        if kind == "foreign":
            self.foreign += 1
        elif kind == "corrupted":
            self.corrupted += 1
            if len(self.reasons) < 5:
                self.reasons.append("seq=%s: %s" % (seq, reason))
        else:
            self.add_valid(seq)

    def add_valid(self, seq):
        self.valid += 1
        if seq in self.seen:
            self.duplicated += 1
            return
        self.seen.add(seq)
        if seq < self.highest:
            self.reordered += 1
        self.highest = max(self.highest, seq)

    def done(self):
        return self.expected is not None and len(self.seen) >= self.expected

    def lost(self):
        if self.expected is None:
            return 0
        return self.expected - len([s for s in self.seen if s < self.expected])


class StopRequested(Exception):
    pass


def raise_stop(_signum, _frame):
    raise StopRequested()


def open_socket(iface):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    # A large buffer so a burst from the guest is not dropped by this socket
    # (which would be blamed on safenic); drops are still reported.
    sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    sock.bind((iface, 0))
    return sock


def socket_drops(sock):
    # struct tpacket_stats { unsigned tp_packets, tp_drops; }
    _packets, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    return drops


def cmd_sniff(args):
    stats = SniffStats(args.count)
    sock = open_socket(args.iface)
    signal.signal(signal.SIGINT, raise_stop)
    signal.signal(signal.SIGTERM, raise_stop)
    deadline = time.monotonic() + args.timeout
    try:
        while not stats.done():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(min(left, 0.5))
            try:
                frame, addr = sock.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] != PACKET_OUTGOING:
                stats.add(frame)
    except StopRequested:
        pass
    drops = socket_drops(sock)
    for reason in stats.reasons:
        print("HOST-SNIFF-CORRUPT: " + reason, file=sys.stderr)
    print("HOST-SNIFF: received=%d valid=%d corrupted=%d foreign=%d duplicated=%d "
          "reordered=%d lost=%d socket_drops=%d"
          % (stats.received, stats.valid, stats.corrupted, stats.foreign,
             stats.duplicated, stats.reordered, stats.lost(), drops), flush=True)
    ok = True
    if args.count is not None:
        ok = (stats.valid == args.count and stats.lost() == 0
              and stats.corrupted == 0 and stats.duplicated == 0)
    if args.min_foreign is not None:
        ok = ok and stats.foreign >= args.min_foreign
    return 0 if ok else 1


# --- send -------------------------------------------------------------------

def iface_counter(iface, name):
    try:
        with open("/sys/class/net/%s/statistics/%s" % (iface, name)) as f:
            return int(f.read())
    except OSError:
        return -1


def cmd_send(args):
    if not MIN_FRAME <= args.size <= MAX_FRAME:
        sys.exit("host-peer: --size must be %d..%d" % (MIN_FRAME, MAX_FRAME))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    addresses = (mac_bytes(args.src_mac), mac_bytes(args.dst_mac),
                 socket.inet_aton(args.src_ip), socket.inet_aton(args.dst_ip),
                 args.src_port, args.dst_port)
    dropped_before = iface_counter(args.iface, "tx_dropped")
    start = time.monotonic()
    for seq in range(args.count):
        if args.rate > 0:
            # Pace against the start time, so sleep jitter does not add up.
            delay = start + seq / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        src_mac, dst_mac, src_ip, dst_ip, sport, dport = addresses
        sock.send(build_frame(seq, args.size, src_mac, dst_mac, src_ip, dst_ip,
                              sport, dport, time.time_ns()))
    seconds = time.monotonic() - start
    # A tap drops (rather than blocks) when its reader, QEMU, falls behind.
    dropped = iface_counter(args.iface, "tx_dropped") - dropped_before
    print("HOST-SEND: sent=%d seconds=%.2f iface_tx_dropped=%d"
          % (args.count, seconds, dropped), flush=True)
    return 0 if dropped == 0 else 1


def mac_bytes(text):
    parts = text.split(":")
    if len(parts) != 6:
        raise argparse.ArgumentTypeError("bad MAC address %r" % text)
    return bytes(int(p, 16) for p in parts)


# --- selfcheck --------------------------------------------------------------

def cmd_selfcheck(_args):
    """The validator must accept every size and reject each kind of damage."""
    addrs = (mac_bytes(DEFAULTS["src_mac"]), mac_bytes(DEFAULTS["dst_mac"]),
             socket.inet_aton(DEFAULTS["src_ip"]), socket.inet_aton(DEFAULTS["dst_ip"]),
             DEFAULTS["src_port"], DEFAULTS["dst_port"])
    failures = 0
    for size in range(MIN_FRAME, MAX_FRAME + 1):
        seq = size * 7919
        frame = build_frame(seq, size, *addrs, time.time_ns())
        if len(frame) != size or classify_frame(frame)[:2] != ("valid", seq):
            print("selfcheck: size %d not valid: %s" % (size, classify_frame(frame)))
            failures += 1
        # Flip one byte in each part of the frame (IP header, UDP header,
        # payload header, pattern); all must be caught.
        for offset in (ETH_LEN + 4, ETH_LEN + IP_LEN + 4, HEADERS_LEN, size - 1):
            damaged = bytearray(frame)
            damaged[offset] ^= 0x01
            if classify_frame(bytes(damaged))[0] != "corrupted":
                print("selfcheck: size %d, flip at %d not detected" % (size, offset))
                failures += 1
    print("selfcheck: %d sizes, %s" % (MAX_FRAME - MIN_FRAME + 1,
                                       "all ok" if not failures else "%d failures" % failures))
    return 1 if failures else 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sniff = sub.add_parser("sniff", help="count and validate incoming frames")
    sniff.add_argument("iface")
    sniff.add_argument("--count", type=int, help="distinct valid frames expected")
    sniff.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    sniff.add_argument("--min-foreign", type=int, help="foreign frames required")

    send = sub.add_parser("send", help="send generator-format frames")
    send.add_argument("iface")
    send.add_argument("--count", type=int, required=True)
    send.add_argument("--rate", type=float, default=1000.0, help="pps, 0 = unpaced")
    send.add_argument("--size", type=int, default=MIN_FRAME)
    for key, value in DEFAULTS.items():
        send.add_argument("--" + key.replace("_", "-"), type=type(value), default=value)

    sub.add_parser("selfcheck", help="test the frame builder and validator")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    commands = {"sniff": cmd_sniff, "send": cmd_send, "selfcheck": cmd_selfcheck}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
