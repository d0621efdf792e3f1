/* ixgbe: Intel 82599 (X520), X540 and X550. Facts from the Intel 82599
 * 10 GbE Controller Datasheet, rev 3.x; the numbered sections cited are
 * its initialisation chapter (4.6.x).
 * QEMU has no model of these NICs: this driver is tested on the host
 * against a register and ring model written from the datasheet
 * (ixgbe_test.c), and has not run on hardware here. */
#define _GNU_SOURCE
#include <errno.h>

#include "error.h"
#include "intel.h"

/* Global registers: X(fam, name, offset, mode, description). */
#define IXGBE_GLOBALS(X, fam)                                                 \
	X(fam, CTRL, 0x00000, RW, "Device Control")                          \
	X(fam, STATUS, 0x00008, RO, "Device Status")                         \
	X(fam, CTRL_EXT, 0x00018, RW, "Extended Device Control")             \
	X(fam, EICR, 0x00800, RW, "Extended Interrupt Cause (write 1 clears)") \
	X(fam, EIAC, 0x00810, RW, "Extended Interrupt Auto Clear")           \
	X(fam, EIMS, 0x00880, RW, "Extended Interrupt Mask Set/Read")        \
	X(fam, EIMC, 0x00888, WO, "Extended Interrupt Mask Clear")           \
	X(fam, EIAM, 0x00890, RW, "Extended Interrupt Auto Mask")            \
	X(fam, GPIE, 0x00898, RW, "General Purpose Interrupt Enable")        \
	X(fam, IVAR_MISC, 0x00A00, RW, "Interrupt Vector Allocation, other causes") \
	X(fam, EIAM_EX0, 0x00AD0, RW, "Extended Interrupt Auto Mask, vectors 0-31") \
	X(fam, RDRXCTL, 0x02F00, RW, "Receive DMA Control")                  \
	X(fam, RXCTRL, 0x03000, RW, "Receive Control")                       \
	X(fam, RXPBSIZE0, 0x03C00, RW, "Receive Packet Buffer Size 0")       \
	X(fam, HLREG0, 0x04240, RW, "MAC Core Control 0")                    \
	X(fam, MHADD, 0x04268, RW, "MAC Max Frame Size (MFS in bits 31:16)") \
	X(fam, AUTOC, 0x042A0, RW, "Auto-Negotiation Control")               \
	X(fam, LINKS, 0x042A4, RO, "Link Status")                            \
	X(fam, RTTDCS, 0x04900, RW, "DCB Transmit Descriptor Plane Control") \
	X(fam, DMATXCTL, 0x04A80, RW, "DMA Tx Control")                      \
	X(fam, RXCSUM, 0x05000, RW, "Receive Checksum Control")              \
	X(fam, FCTRL, 0x05080, RW, "Filter Control")                         \
	X(fam, MRQC, 0x0EC80, RW, "Multiple Receive Queues Command")        \
	X(fam, RETA, 0x0EB00, RW, "Redirection Table (32 registers)")       \
	X(fam, RSSRK, 0x0EB80, RW, "RSS Random Key (10 registers)")        \
	X(fam, DTXMXSZRQ, 0x08100, RW, "DMA Tx Max Total Allowed Size Requests") \
	X(fam, MTQC, 0x08120, RW, "Multiple Transmit Queues Command")        \
	X(fam, RAL0, 0x0A200, RW, "Receive Address Low 0")                   \
	X(fam, RAH0, 0x0A204, RW, "Receive Address High 0")                  \
	X(fam, TXPBSIZE0, 0x0CC00, RW, "Transmit Packet Buffer Size 0")      \
	X(fam, EEC, 0x10010, RW, "EEPROM/Flash Control")                     \
	X(fam, MPC0, 0x03FA0, RC, "Missed Packets Count 0")                  \
	X(fam, CRCERRS, 0x04000, RC, "CRC Error Count")                      \
	X(fam, GPRC, 0x04074, RC, "Good Packets Received Count")             \
	X(fam, GPTC, 0x04080, RC, "Good Packets Transmitted Count")          \
	X(fam, GORCL, 0x04088, RC64, "Good Octets Received Count")           \
	X(fam, GOTCL, 0x04090, RC64, "Good Octets Transmitted Count")        \
	X(fam, ROC, 0x040AC, RC, "Receive Oversize Count")

/* Queue registers, queues 0-63: X(fam, name, offset, stride, mode, desc). */
#define IXGBE_QUEUES(X, fam)                                                  \
	X(fam, RDBAL, 0x01000, 0x40, RW, "Rx Descriptor Base Low")           \
	X(fam, RDBAH, 0x01004, 0x40, RW, "Rx Descriptor Base High")          \
	X(fam, RDLEN, 0x01008, 0x40, RW, "Rx Descriptor Length")             \
	X(fam, DCA_RXCTRL, 0x0100C, 0x40, RW, "Rx DCA Control")              \
	X(fam, RDH, 0x01010, 0x40, RW, "Rx Descriptor Head")                 \
	X(fam, SRRCTL, 0x01014, 0x40, RW, "Split Receive Control")           \
	X(fam, RDT, 0x01018, 0x40, RW, "Rx Descriptor Tail")                 \
	X(fam, RXDCTL, 0x01028, 0x40, RW, "Receive Descriptor Control")      \
	X(fam, TDBAL, 0x06000, 0x40, RW, "Tx Descriptor Base Low")           \
	X(fam, TDBAH, 0x06004, 0x40, RW, "Tx Descriptor Base High")          \
	X(fam, TDLEN, 0x06008, 0x40, RW, "Tx Descriptor Length")             \
	X(fam, TDH, 0x06010, 0x40, RW, "Tx Descriptor Head")                 \
	X(fam, TDT, 0x06018, 0x40, RW, "Tx Descriptor Tail")                 \
	X(fam, TXDCTL, 0x06028, 0x40, RW, "Transmit Descriptor Control")      \
	X(fam, EITR, 0x00820, 0x4, RW, "Extended Interrupt Throttle, per vector") \
	X(fam, IVAR, 0x00900, 0x4, RW, "Interrupt Vector Allocation, queues 2n and 2n+1")

SN_DEFINE_REGISTERS(ixgbe, IXGBE_GLOBALS, IXGBE_QUEUES)

#define CTRL_LNK_RST (1u << 3)
#define CTRL_RST (1u << 26)
#define CTRL_EXT_NS_DIS (1u << 16)
#define EEC_ARD (1u << 9)
#define RDRXCTL_CRCSTRIP (1u << 1)
#define RDRXCTL_DMAIDONE (1u << 3)
#define RXCTRL_RXEN (1u << 0)
#define HLREG0_TXCRCEN (1u << 0)
#define HLREG0_RXCRCSTRP (1u << 1)
#define HLREG0_JUMBOEN (1u << 2)
#define MHADD_MFS_SHIFT 16
/* MFS counts the FCS; the NIC wants at least a standard frame's 1518. */
#define MHADD_MFS_MIN 1518u
#define HLREG0_TXPADEN (1u << 10)
#define AUTOC_AN_RESTART (1u << 12)
#define AUTOC_LMS_MASK (7u << 13)
#define AUTOC_LMS_10G_SERIAL (3u << 13)
#define AUTOC_10G_PMA_PMD_MASK (3u << 7)
#define LINKS_UP (1u << 30)
#define RTTDCS_ARBDIS (1u << 6)
#define DMATXCTL_TE (1u << 0)
#define FCTRL_MPE (1u << 8)
#define FCTRL_UPE (1u << 9)
#define FCTRL_BAM (1u << 10)
#define SRRCTL_DESCTYPE_ADV_ONEBUF (1u << 25)
#define SRRCTL_DROP_EN (1u << 28)
#define DCA_RXCTRL_BIT12 (1u << 12)
#define QUEUE_ENABLE (1u << 25)       /* RXDCTL and TXDCTL */
#define RXPBSIZE_128KB 0x00020000u
#define TXPBSIZE_40KB 0x0000A000u
/* TXDCTL thresholds: prefetch 36, host 8, write-back threshold 0. The
 * ring asks for RS once per burst; a write-back threshold above 0 would
 * hold that one status back until more descriptors were done, and the
 * last burst of a run would then look unsent. */
#define TXDCTL_THRESHOLDS (36u | 8u << 8)

/* Advanced transmit data descriptor, DTYP = 0011; DCMD = EOP | IFCS |
 * DEXT (the ring adds RS); PAYLEN in bits 63:46. */
static const struct sn_ring_format ixgbe_format = {
	.name = "advanced",
	.tx_cmd = (0x3ull << 20) | ((0x01ull | 0x02ull | 0x20ull) << 24),
	.tx_paylen = true,
	/* Receive errors: CE | LE | PE | OSE | USE. */
	.rx_error_mask = 0x3B000000u,
	/* RSS type in bits 3:0 of the write-back's first dword. */
	.rx_rss_type_mask = 0xf,
};

static bool is_82599(const struct sn_intel_nic *nic)
{
	uint16_t id = nic->dev->pci.device;
	return id != 0x1528 && id != 0x1560 && id != 0x1563 && id != 0x15d1 &&
	       id != 0x15ab && id != 0x15ac && id != 0x15ad;
}

/* 4.6.3: mask interrupts, reset, mask again, wait for the EEPROM and for
 * DMA initialisation; then 4.6.4 link set-up. */
static int ixgbe_reset(struct sn_intel_nic *nic, struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	const char *addr = nic->dev->pci.addr;

	ixgbe_wr_EIMC(bar, 0x7fffffffu);
	ixgbe_wr_CTRL(bar, ixgbe_rd_CTRL(bar) | CTRL_RST | CTRL_LNK_RST);
	sn_intel_sleep_ms(10); /* at least 10 ms before polling */
	if (sn_intel_wait(nic, ixgbe_off_CTRL, CTRL_RST | CTRL_LNK_RST, 0, 1000) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: ixgbe reset did not complete", addr);
	ixgbe_wr_EIMC(bar, 0x7fffffffu);
	if (sn_intel_wait(nic, ixgbe_off_EEC, EEC_ARD, EEC_ARD, 1000) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: the EEPROM auto-read did not finish", addr);
	if (sn_intel_wait(nic, ixgbe_off_RDRXCTL, RDRXCTL_DMAIDONE, RDRXCTL_DMAIDONE, 1000) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: DMA initialisation did not finish", addr);
	/* 4.6.4: 82599 link through AUTOC, 10G serial with auto-negotiation
	 * restarted. X540/X550 copper PHYs bring the link up on their own. */
	if (is_82599(nic)) {
		uint32_t autoc = ixgbe_rd_AUTOC(bar);
		autoc = (autoc & ~(AUTOC_LMS_MASK | AUTOC_10G_PMA_PMD_MASK)) | AUTOC_LMS_10G_SERIAL;
		ixgbe_wr_AUTOC(bar, autoc | AUTOC_AN_RESTART);
	}
	return 0;
}

/* 4.6.7: receive initialisation for one queue. */
static int ixgbe_setup_rx_queue(struct sn_intel_nic *nic, unsigned q, uint64_t iova,
				uint16_t size, uint32_t buf_size, struct sn_queue_regs *regs,
				struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	if (q == 0) {
		/* Receive off while configuring; one 128 KB packet buffer;
		 * strip the CRC so lengths exclude it. */
		ixgbe_wr_RXCTRL(bar, ixgbe_rd_RXCTRL(bar) & ~RXCTRL_RXEN);
		ixgbe_wr_RXPBSIZE0(bar, RXPBSIZE_128KB);
		ixgbe_wr_HLREG0(bar, ixgbe_rd_HLREG0(bar) | HLREG0_RXCRCSTRP);
		ixgbe_wr_RDRXCTL(bar, ixgbe_rd_RDRXCTL(bar) | RDRXCTL_CRCSTRIP);
		/* 4.6.7: no-snoop disable, as the datasheet requires. */
		ixgbe_wr_CTRL_EXT(bar, ixgbe_rd_CTRL_EXT(bar) | CTRL_EXT_NS_DIS);
	}
	ixgbe_wr_RDBAL(bar, q, (uint32_t)iova);
	ixgbe_wr_RDBAH(bar, q, (uint32_t)(iova >> 32));
	ixgbe_wr_RDLEN(bar, q, size * (uint32_t)sizeof(union sn_desc));
	ixgbe_wr_SRRCTL(bar, q, (buf_size / 1024) | SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN);
	/* DCA_RXCTRL: bit 12 must be cleared (relaxed ordering of writes). */
	ixgbe_wr_DCA_RXCTRL(bar, q, ixgbe_rd_DCA_RXCTRL(bar, q) & ~DCA_RXCTRL_BIT12);
	ixgbe_wr_RDH(bar, q, 0);
	ixgbe_wr_RDT(bar, q, 0);
	ixgbe_wr_RXDCTL(bar, q, ixgbe_rd_RXDCTL(bar, q) | QUEUE_ENABLE);
	if (sn_intel_wait(nic, ixgbe_off_RXDCTL(q), QUEUE_ENABLE, QUEUE_ENABLE, 100) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: receive queue %u did not enable",
			       nic->dev->pci.addr, q);
	*regs = (struct sn_queue_regs){ ixgbe_off_RDH(q), ixgbe_off_RDT(q) };
	return 0;
}

/* 4.6.8: transmit initialisation for one queue. */
static int ixgbe_setup_tx_queue(struct sn_intel_nic *nic, unsigned q, uint64_t iova,
				uint16_t size, struct sn_queue_regs *regs, struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	if (q == 0) {
		ixgbe_wr_HLREG0(bar, ixgbe_rd_HLREG0(bar) | HLREG0_TXCRCEN | HLREG0_TXPADEN);
		ixgbe_wr_TXPBSIZE0(bar, TXPBSIZE_40KB);
		ixgbe_wr_DTXMXSZRQ(bar, 0xffff);
		/* MTQC may only change while the DCB arbiter is off. */
		ixgbe_wr_RTTDCS(bar, ixgbe_rd_RTTDCS(bar) | RTTDCS_ARBDIS);
		ixgbe_wr_MTQC(bar, 0); /* 64 queues, one packet buffer */
		ixgbe_wr_RTTDCS(bar, ixgbe_rd_RTTDCS(bar) & ~RTTDCS_ARBDIS);
		ixgbe_wr_DMATXCTL(bar, ixgbe_rd_DMATXCTL(bar) | DMATXCTL_TE);
	}
	ixgbe_wr_TDBAL(bar, q, (uint32_t)iova);
	ixgbe_wr_TDBAH(bar, q, (uint32_t)(iova >> 32));
	ixgbe_wr_TDLEN(bar, q, size * (uint32_t)sizeof(union sn_desc));
	ixgbe_wr_TDH(bar, q, 0);
	ixgbe_wr_TDT(bar, q, 0);
	ixgbe_wr_TXDCTL(bar, q, TXDCTL_THRESHOLDS | QUEUE_ENABLE);
	if (sn_intel_wait(nic, ixgbe_off_TXDCTL(q), QUEUE_ENABLE, QUEUE_ENABLE, 100) < 0)
		return sn_fail(err, ETIMEDOUT, "%s: transmit queue %u did not enable",
			       nic->dev->pci.addr, q);
	*regs = (struct sn_queue_regs){ ixgbe_off_TDH(q), ixgbe_off_TDT(q) };
	return 0;
}

/* Receive queue 0's set-up turns the whole receiver off while it
 * configures it; starting a queue turns it back on. */
static void ixgbe_queue_enable(struct sn_intel_nic *nic, bool receive, unsigned q, bool on)
{
	sn_intel_queue_ctl_enable(nic, receive ? ixgbe_off_RXDCTL(q) : ixgbe_off_TXDCTL(q), on);
	if (receive && on)
		ixgbe_wr_RXCTRL(nic->bar, ixgbe_rd_RXCTRL(nic->bar) | RXCTRL_RXEN);
}

/* The NIC drops received frames longer than MHADD.MFS (FCS included),
 * and counts them in ROC; JUMBOEN lets it take frames past 1518 bytes
 * up to that size (82599 datasheet, MHADD and HLREG0; Linux's ixgbe sets
 * both alike). A smaller MTU than 1500 is enforced by the ring alone. */
static void ixgbe_set_max_frame(struct sn_intel_nic *nic)
{
	volatile uint8_t *bar = nic->bar;
	uint32_t mfs = nic->dev->mtu + 14u + 4u;
	if (mfs < MHADD_MFS_MIN)
		mfs = MHADD_MFS_MIN;
	ixgbe_wr_MHADD(bar, (ixgbe_rd_MHADD(bar) & 0xffffu) | mfs << MHADD_MFS_SHIFT);
	ixgbe_wr_HLREG0(bar, ixgbe_rd_HLREG0(bar) | HLREG0_JUMBOEN);
}

static void ixgbe_enable(struct sn_intel_nic *nic, bool promiscuous)
{
	volatile uint8_t *bar = nic->bar;
	ixgbe_set_max_frame(nic);
	uint32_t fctrl = ixgbe_rd_FCTRL(bar) | FCTRL_BAM;
	if (promiscuous)
		fctrl |= FCTRL_MPE | FCTRL_UPE;
	ixgbe_wr_FCTRL(bar, fctrl);
	ixgbe_wr_RXCTRL(bar, ixgbe_rd_RXCTRL(bar) | RXCTRL_RXEN);
}

static void ixgbe_disable(struct sn_intel_nic *nic)
{
	volatile uint8_t *bar = nic->bar;
	ixgbe_wr_RXCTRL(bar, ixgbe_rd_RXCTRL(bar) & ~RXCTRL_RXEN);
	for (unsigned q = 0; q < nic->rx_queues; q++)
		ixgbe_wr_RXDCTL(bar, q, ixgbe_rd_RXDCTL(bar, q) & ~QUEUE_ENABLE);
	for (unsigned q = 0; q < nic->tx_queues; q++)
		ixgbe_wr_TXDCTL(bar, q, ixgbe_rd_TXDCTL(bar, q) & ~QUEUE_ENABLE);
	ixgbe_wr_DMATXCTL(bar, ixgbe_rd_DMATXCTL(bar) & ~DMATXCTL_TE);
}

/* LINKS.UP, speed in bits 29:28. */
static void ixgbe_link(struct sn_intel_nic *nic, struct sn_link *link)
{
	static const uint32_t speeds[4] = { 0, 100, 1000, 10000 };
	uint32_t links = ixgbe_rd_LINKS(nic->bar);
	link->up = links & LINKS_UP;
	link->speed_mbps = link->up ? speeds[(links >> 28) & 3] : 0;
}

/* ---- receive interrupts, MSI-X mode ---------------------------------- */

#define GPIE_MSIX_MODE (1u << 4)     /* EICR bits are MSI-X vectors */
#define GPIE_OCD (1u << 5)           /* an EICR read leaves the queue causes */
#define GPIE_EIAME (1u << 30)        /* auto-mask a vector that fired */
#define GPIE_PBA_SUPPORT (1u << 31)
#define IVAR_VALID 0x80u
#define EICR_LSC (1u << 20)          /* link status change */
#define EICR_OTHER (1u << 31)
#define EITR_INTERVAL_MAX 0xff8u     /* bits 11:3, in units of 2 us */
#define EITR_CNT_WDIS (1u << 31)     /* a write leaves the counter alone */

/* IVAR n holds receive queue 2n in byte 0 and receive queue 2n + 1 in
 * byte 2; the transmit entries (bytes 1 and 3) stay invalid: no
 * transmit interrupts. */
static void ixgbe_map_rx_queue(struct sn_intel_nic *nic, unsigned q, unsigned vector)
{
	unsigned shift = (q & 1) * 16;
	uint32_t ivar = ixgbe_rd_IVAR(nic->bar, q / 2) & ~(0xffu << shift);
	ixgbe_wr_IVAR(nic->bar, q / 2, ivar | (vector | IVAR_VALID) << shift);
}

/* Vector causes, allocation, throttling, then the masks. The queue
 * vectors clear (EIAC) and mask (EIAM, and EIAM_EX for MSI-X vectors on
 * the 82599) themselves when they fire; the other causes cannot be
 * auto-cleared, so irq_ack clears them by writing EICR. */
static int ixgbe_irq_setup(struct sn_intel_nic *nic, const struct sn_intr *intr,
			   uint16_t itr_usec, struct sn_error *err)
{
	volatile uint8_t *bar = nic->bar;
	uint32_t queues = 0, itr = (uint32_t)itr_usec << 2;
	(void)err;
	if (itr > EITR_INTERVAL_MAX)
		itr = EITR_INTERVAL_MAX;   /* 1022 us, the longest interval */
	ixgbe_wr_GPIE(bar, GPIE_MSIX_MODE | GPIE_OCD | GPIE_EIAME | GPIE_PBA_SUPPORT);
	for (unsigned q = 0; q < nic->rx_queues; q++) {
		ixgbe_map_rx_queue(nic, q, q);
		ixgbe_wr_EITR(bar, q, (itr & EITR_INTERVAL_MAX) | EITR_CNT_WDIS);
		queues |= 1u << q;
	}
	ixgbe_wr_IVAR_MISC(bar, intr->event_vector | IVAR_VALID);
	ixgbe_wr_EIAC(bar, queues);
	ixgbe_wr_EIAM(bar, queues);
	ixgbe_wr_EIAM_EX0(bar, queues);
	ixgbe_wr_EIMC(bar, 0x7fffffffu);
	ixgbe_wr_EICR(bar, ~0u);
	ixgbe_wr_EIMS(bar, EICR_OTHER | EICR_LSC);
	return 0;
}

static void ixgbe_irq_queue(struct sn_intel_nic *nic, unsigned q, bool unmask)
{
	volatile uint8_t *bar = nic->bar;
	if (!unmask) {
		ixgbe_wr_EIMC(bar, 1u << q);
		return;
	}
	/* A cause left from frames already polled would fire at once. */
	ixgbe_wr_EICR(bar, 1u << q);
	ixgbe_wr_EIMS(bar, 1u << q);
	(void)ixgbe_rd_STATUS(bar);  /* flush: both writes reached the NIC */
}

static void ixgbe_irq_ack(struct sn_intel_nic *nic, const struct sn_intr *intr)
{
	(void)intr;
	ixgbe_wr_EICR(nic->bar, EICR_OTHER | EICR_LSC);
	ixgbe_wr_EIMS(nic->bar, EICR_OTHER | EICR_LSC);
}

/* 7.1.2.8 RSS: MRQC.MRQE = 0001b (RSS, no DCB or virtualisation); hash
 * fields TcpIPv4 (bit 16), IPv4 (17), IPv6 (20), TcpIPv6 (21), UdpIPv4
 * (22), UdpIPv6 (23). The queue number is the low bits of an entry. */
static const struct sn_intel_rss ixgbe_rss = {
	.mrqc = ixgbe_off_MRQC, .reta = ixgbe_off_RETA, .rssrk = ixgbe_off_RSSRK,
	.rxcsum = ixgbe_off_RXCSUM,
	.mrqc_enable = 0x1,
	.fields = { 1u << 17, 1u << 16, 1u << 22, 1u << 20, 1u << 21, 1u << 23 },
	.reta_shift = 0,
};

static const char *ixgbe_match(uint16_t vendor, uint16_t device)
{
	if (vendor != 0x8086)
		return NULL;
	switch (device) {
	case 0x10f7: case 0x10f8: case 0x10f9: case 0x10fb: case 0x10fc:
	case 0x1507: case 0x1514: case 0x1517: case 0x151c: case 0x1529:
	case 0x152a: case 0x154a: case 0x154d: case 0x1557: case 0x1558:
		return "Intel 82599 (X520)";
	case 0x1528: case 0x1560:
		return "Intel X540";
	case 0x1563: case 0x15d1: case 0x15ab: case 0x15ac: case 0x15ad:
		return "Intel X550";
	}
	return NULL;
}

const struct sn_intel_family sn_ixgbe_family = {
	.name = "ixgbe",
	.format = &ixgbe_format,
	.registers = ixgbe_registers,
	.num_registers = ixgbe_num_registers,
	.max_queues = SN_MAX_QUEUES,    /* of its 128 receive and transmit queues */
	.rss = &ixgbe_rss,
	.default_ring = 512,
	.min_rx_room = 1024,
	.reset = ixgbe_reset,
	.ral0 = ixgbe_off_RAL0,
	.setup_rx_queue = ixgbe_setup_rx_queue,
	.setup_tx_queue = ixgbe_setup_tx_queue,
	.queue_enable = ixgbe_queue_enable,
	.enable = ixgbe_enable,
	.disable = ixgbe_disable,
	.link = ixgbe_link,
	.irq_setup = ixgbe_irq_setup,
	.irq_queue = ixgbe_irq_queue,
	.irq_ack = ixgbe_irq_ack,
	.rx_packets = "GPRC",
	.tx_packets = "GPTC",
	.rx_bytes = "GORCL",
	.tx_bytes = "GOTCL",
	.rx_missed = "MPC0",
	.rx_oversize = "ROC",
};

SN_INTEL_DRIVER(sn_ixgbe_driver, "ixgbe", ixgbe_match, sn_ixgbe_family);
